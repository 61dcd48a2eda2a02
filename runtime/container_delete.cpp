// `delete`: a stopped or created container (or any, with --force) goes away with everything it
// held: processes, cgroups, state directory; poststop hooks run last.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "cgroups/manager.h"
#include "namespaces/rootfs.h"
#include "runtime/create_internal.h"
#include "runtime/hooks.h"
#include "runtime/net_devices.h"

namespace hutch::runtime {
namespace {

// Kills the container's first process and waits (bounded) until the kernel has it gone.
void kill_and_wait(const ContainerState& state, cgroups::Manager& cgroups) {
    UniqueFd pidfd = open_container_pidfd(state);
    if (!pidfd) return;
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    // A paused container: cgroup v1's freezer holds the process, SIGKILL and all, until thawed.
    // Thawed after the signal, so that nothing runs on in between.
    if (cgroups.is_frozen().value_or(false)) (void)cgroups.thaw();
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    ::poll(&pfd, 1, 10000);
}

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

// A container without a mount namespace of its own left its mounts in the runtime's, or in the
// one it joined by path.
ErrorOr<void> unmount_shared_rootfs(const ContainerState& state) {
    if (state.rootfs_mount_id == 0) return {};
    if (state.mount_namespace_path.empty())
        return rootfs::unmount_rootfs(state.rootfs, state.rootfs_mount_id);
    return unmount_rootfs_in(state.mount_namespace_path, state);
}

}  // namespace

ErrorOr<void> destroy_container(Container& container, int held_netns) {
    auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
    // Before the kill: the namespace may go with the process, and the interfaces with it.
    move_net_devices_out(container.state, held_netns);
    kill_and_wait(container.state, *cgroups);
    log::debug("delete: the processes are gone");
    TRY(unmount_shared_rootfs(container.state));
    TRY(cgroups->destroy());
    log::debug("delete: the cgroups are gone");
    if (!container.state.poststop.empty())
        run_hooks_warning("poststop", container.state.poststop, json_text(container.spec_state()),
                          {.cwd = container.state.bundle});
    return container.remove_directory();
}

ErrorOr<void> remove(const std::string& root, const std::string& id, bool force) {
    auto container = Container::open(root, id);
    if (!container) {
        // A crash during create can leave a directory without a usable state.json.
        // With --force, an id that does not exist is already gone: containerd and podman delete
        // with --force after a failed create, and expect success, as runc gives.
        struct stat st;
        if (!validate_container_id(id) || !force) return std::unexpected(container.error());
        if (::stat((root + "/" + id).c_str(), &st) != 0) return {};
        if (TRY(Container::remove_broken(root, id))) return {};
        container = TRY(Container::open(root, id));  // a create running meanwhile completed it
    }
    Status status = container->status();
    // Like runc, a created container is removed without --force: containerd's shim relies on it.
    if ((status == Status::running || status == Status::paused) && !force)
        return fail("cannot delete container " + id + " that is not stopped: " + status_name(status) +
                    " (use --force)");
    return destroy_container(*container);
}

}  // namespace hutch::runtime
