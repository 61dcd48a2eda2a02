// Cloning a container's process: clone3() with a pidfd, born straight into its cgroup where the
// kernel can (CLONE_INTO_CGROUP), in a pid namespace joined for the one clone. Shared by the
// first process (launch.cpp) and those of `exec` (exec_launch.cpp).
#pragma once

#include <sys/types.h>

#include <exception>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::runtime {

// clone3 with CLONE_PIDFD and SIGCHLD; born in the cgroup2 directory cgroup_fd when it is >= 0.
// Returns the pid in the parent (pidfd_out set), 0 in the child, -1 with errno on failure.
pid_t clone_child(int flags, int cgroup_fd, UniqueFd& pidfd_out);

// Whether a failed CLONE_INTO_CGROUP clone may be retried without it, moving the process in
// afterwards: a seccomp filter around hutch that hides the flag, or a kernel that lacks it.
bool clone_into_cgroup_refused(int err);

// In a cloned child: runs its set-up, which returns only when it failed (success is an exec), and
// gives the failure's message. An exception, which would unwind out of the child's entry into
// the parent's code, in the child, is a failure too. None is expected: the set-up reports
// failures as ErrorOr and throws nothing but a failed allocation.
template <typename Setup>
std::string child_setup_failure(Setup&& setup) noexcept {
    try {
        auto result = setup();
        return result ? std::string("set-up returned without an exec") : result.error().message;
    } catch (const std::exception& e) {
        return std::string("internal error: ") + e.what();
    } catch (...) {
        return "internal error";
    }
}

// Makes the pid namespace of ns_fd (a namespace fd or a pidfd) the one this process's next
// children are born in, for as long as it lives; then ours again.
class PidNamespaceForChildren {
public:
    static ErrorOr<PidNamespaceForChildren> enter(int ns_fd, const char* what);
    ~PidNamespaceForChildren();
    PidNamespaceForChildren(PidNamespaceForChildren&&) = default;
    PidNamespaceForChildren& operator=(PidNamespaceForChildren&&) = delete;

private:
    explicit PidNamespaceForChildren(UniqueFd own) : own_(std::move(own)) {}
    UniqueFd own_;
};

}  // namespace hutch::runtime
