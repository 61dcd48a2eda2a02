#include "microvm/agent/guest_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <sstream>
#include <string>
#include <string_view>

#include "base/file.h"
#include "microvm/agent/guest_rootfs.h"

namespace hutch::microvm::agent {

namespace {

// /proc/PID/ns's file of each namespace but the pid one, in the order an exec joins them: the
// mount namespace last, as it changes the root.
constexpr std::array<std::pair<unsigned long, std::string_view>, 4> joined_in_child = {{
    {CLONE_NEWCGROUP, "cgroup"},
    {CLONE_NEWIPC, "ipc"},
    {CLONE_NEWUTS, "uts"},
    {CLONE_NEWNS, "mnt"},
}};

ErrorOr<UniqueFd> open_path(const std::string& path, int flags) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) return fail_errno("open " + path);
    return fd;
}

ErrorOr<void> mount_again(const char* type, const char* target, unsigned long flags) {
    // Unmounted, not mounted over: the guest's whole /proc or cgroup tree under the container's
    // would be there again for a process that unmounts the top one.
    if (::umount2(target, MNT_DETACH) != 0) return fail_errno(std::string("unmount ") + target);
    if (::mount(type, target, type, flags, nullptr) != 0)
        return fail_errno(std::string("mount ") + type + " on " + target);
    return {};
}

}  // namespace

pid_t clone_into_namespaces(unsigned long flags) {
    // fork(), with flags: the raw system call, as glibc's clone() wants a stack for the child.
    return static_cast<pid_t>(
        ::syscall(SYS_clone, SIGCHLD | (flags & ~CLONE_NEWCGROUP), nullptr, nullptr, nullptr, nullptr));
}

ErrorOr<void> make_new_namespaces(unsigned long flags) {
    // After joining the cgroup: the namespace's root is the cgroup the process is in.
    if ((flags & CLONE_NEWCGROUP) && ::unshare(CLONE_NEWCGROUP) != 0)
        return fail_errno("unshare the cgroup namespace");
    // The agent's mounts are private (nothing in the guest makes one shared), so these stay in
    // the container's mount namespace.
    if (!(flags & CLONE_NEWNS)) return {};
    if (flags & CLONE_NEWPID) TRY(mount_again("proc", "/proc", api_filesystem_flags));
    if (flags & CLONE_NEWCGROUP) TRY(mount_again("cgroup2", "/sys/fs/cgroup", container_cgroup_flags));
    return {};
}

ErrorOr<NamespacesToJoin> NamespacesToJoin::open(pid_t first, unsigned long flags) {
    NamespacesToJoin join;
    std::string proc = "/proc/" + std::to_string(first);
    for (auto [flag, name] : joined_in_child)
        if (flags & flag)
            join.namespaces_.emplace_back(flag, TRY(open_path(proc + "/ns/" + std::string(name), O_RDONLY)));
    if (flags & CLONE_NEWPID) join.pid_ = TRY(open_path(proc + "/ns/pid", O_RDONLY));
    // Its root, not its mount namespace's: the container's root is mounted over the initramfs,
    // which stays the namespace's own root.
    join.root_ = TRY(open_path(proc + "/root", O_RDONLY | O_DIRECTORY));
    return join;
}

ErrorOr<NamespacesToJoin::PidForChildren> NamespacesToJoin::enter_pid_for_children() const {
    if (!pid_) return PidForChildren(UniqueFd());
    UniqueFd own = TRY(open_path("/proc/self/ns/pid", O_RDONLY));
    if (::setns(pid_.get(), CLONE_NEWPID) != 0) return fail_errno("join the container's pid namespace");
    return PidForChildren(std::move(own));
}

NamespacesToJoin::PidForChildren::~PidForChildren() {
    // Back to the agent's own, its active pid namespace, which setns always allows.
    if (own_) (void)::setns(own_.get(), CLONE_NEWPID);
}

ErrorOr<void> NamespacesToJoin::join() const {
    for (const auto& [flag, fd] : namespaces_)
        if (::setns(fd.get(), static_cast<int>(flag)) != 0)
            return fail_errno("join the container's namespaces");
    if (::fchdir(root_.get()) != 0 || ::chroot(".") != 0) return fail_errno("enter the container's root");
    return {};
}

std::optional<pid_t> innermost_pid(pid_t pid) {
    auto status = read_file("/proc/" + std::to_string(pid) + "/status");
    if (!status) return std::nullopt;
    size_t line = status->find("\nNSpid:");
    if (line == std::string::npos) return pid;  // a kernel before 4.1: no pid namespaces to see
    std::istringstream numbers(status->substr(line + 7, status->find('\n', line + 1) - line - 7));
    std::optional<pid_t> innermost;
    for (pid_t each; numbers >> each;) innermost = each;
    return innermost;
}

}  // namespace hutch::microvm::agent
