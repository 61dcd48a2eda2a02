#include "runtime/clone.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hutch::runtime {

pid_t clone_child(int flags, int cgroup_fd, UniqueFd& pidfd_out) {
    int pidfd = -1;
    struct clone_args args = {};
    args.flags = static_cast<uint64_t>(flags) | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
    if (pid > 0) pidfd_out.reset(pidfd);
    return pid;
}

bool clone_into_cgroup_refused(int err) { return err == EINVAL || err == ENOSYS || err == EPERM; }

ErrorOr<PidNamespaceForChildren> PidNamespaceForChildren::enter(int ns_fd, const char* what) {
    UniqueFd own(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own) return fail_errno("open /proc/self/ns/pid");
    if (::setns(ns_fd, CLONE_NEWPID) != 0) return fail_errno(std::string(what) + ": setns");
    return PidNamespaceForChildren(std::move(own));
}

PidNamespaceForChildren::~PidNamespaceForChildren() {
    if (own_) ::setns(own_.get(), CLONE_NEWPID);
}

}  // namespace hutch::runtime
