// The rootfs mount of a container without a mount namespace of its own, undone (rootfs.h in
// namespaces/ says how it was made).
#include "runtime/shared_rootfs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "namespaces/rootfs.h"

namespace hutch::runtime {
namespace {

// In the mount namespace at ns_path, entered by a child of ours so that this process stays in
// its own; the child's error comes back on a pipe.
ErrorOr<void> unmount_rootfs_in(const std::string& ns_path, const ContainerState& state) {
    UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns && errno == ENOENT) return {};  // the namespace is gone, and its mounts with it
    if (!ns) return fail_errno("open the container's mount namespace " + ns_path);
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd read_end(ends[0]), write_end(ends[1]);
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) {
        auto done = ::setns(ns.get(), CLONE_NEWNS) == 0
                        ? rootfs::unmount_rootfs(state.rootfs, state.rootfs_mount_id)
                        : fail_errno("enter the mount namespace " + ns_path);
        if (!done) (void)!::write(write_end.get(), done.error().message.data(), done.error().message.size());
        _exit(done ? 0 : 1);
    }
    write_end.reset();
    std::string failure = read_all(read_end.get()).value_or("");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    return fail(failure.empty() ? "unmount the container's rootfs in " + ns_path + ": the helper died"
                                : failure);
}

}  // namespace

ErrorOr<void> unmount_shared_rootfs(const ContainerState& state) {
    if (state.rootfs_mount_id == 0) return {};
    if (state.mount_namespace_path.empty())
        return rootfs::unmount_rootfs(state.rootfs, state.rootfs_mount_id);
    return unmount_rootfs_in(state.mount_namespace_path, state);
}

}  // namespace hutch::runtime
