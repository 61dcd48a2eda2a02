// `delete`: a stopped or created container (or any, with --force) goes away with everything it
// held: processes, cgroups, state directory; poststop hooks run last.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base/json.h"
#include "base/log.h"
#include "cgroups/manager.h"
#include "runtime/create_internal.h"
#include "runtime/hooks.h"
#include "runtime/net_devices.h"
#include "runtime/shared_rootfs.h"

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
