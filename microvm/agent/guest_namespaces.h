// The container's namespaces inside the guest (GuestConfig::namespaces), as a host container's:
// the first process is PID 1 of its own pid namespace, with its own mounts, /proc, hostname, IPC
// and cgroup root. Every exec joins the first process's.
#pragma once

#include <sys/types.h>

#include <optional>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm::agent {

// fork() for the first process, cloned into new namespaces of flags (CLONE_NEW*) but the cgroup
// one, which the child makes once it is in the container's cgroup (make_new_namespaces).
pid_t clone_into_namespaces(unsigned long flags);

// In the first process's child, once it joined the container's cgroup: its cgroup namespace,
// and in its own mount namespace a /proc of its pid namespace and a cgroup2 mount whose root is
// its cgroup.
ErrorOr<void> make_new_namespaces(unsigned long flags);

// The first process's namespaces and root, held open by the agent while an exec starts.
class NamespacesToJoin {
public:
    // first's namespaces of flags, and its root.
    static ErrorOr<NamespacesToJoin> open(pid_t first, unsigned long flags);

    // In the agent, around the exec's fork: its children's pid namespace is the container's
    // while the guard lives, then the agent's own again.
    class PidForChildren {
    public:
        PidForChildren(PidForChildren&&) = default;
        ~PidForChildren();

    private:
        friend class NamespacesToJoin;
        explicit PidForChildren(UniqueFd own) : own_(std::move(own)) {}
        UniqueFd own_;
    };
    ErrorOr<PidForChildren> enter_pid_for_children() const;

    // In the exec's child: every namespace but the pid one, then the container's root as its root.
    ErrorOr<void> join() const;

private:
    std::vector<std::pair<unsigned long, UniqueFd>> namespaces_;  // pid not among them
    UniqueFd pid_, root_;
};

// pid as its innermost pid namespace numbers it (/proc/PID/status's NSpid): the container's, when
// it has one of its own. Nothing when the process is gone.
std::optional<pid_t> innermost_pid(pid_t pid);

}  // namespace hutch::microvm::agent
