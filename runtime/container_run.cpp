// `run`: create and start; in the foreground, forward signals and the terminal, wait, pass the
// exit status through and delete the container (unless --keep), as `runc run` does.
#include <fcntl.h>

#include "base/log.h"
#include "runtime/close_when_exited.h"
#include "runtime/create_internal.h"
#include "runtime/foreground.h"

namespace hutch::runtime {
namespace {

// The process is still waiting for start, so its pid is still its own.
UniqueFd open_mount_namespace(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

}  // namespace

ErrorOr<int> run(const CreateOptions& options, RunMode mode) {
    bool detach = mode.detach;
    UniqueFd signal_fd;
    // Blocked before the clone so that no signal is lost; the child unblocks them for itself.
    if (!detach) signal_fd = TRY(block_signals());
    auto created = TRY(create_container(options, {.keep_terminal = !detach, .start_on_channel = true}));
    Container& container = *created.container;
    // Held so that the exit of the container's last process does not unmount everything in its
    // mount namespace before `run` hears of it: that happens below, beside the delete.
    UniqueFd mount_ns;
    if (!detach) mount_ns = open_mount_namespace(created.launched.pid);
    auto started = start_created(container, created.launched);
    if (!started) {
        (void)destroy_container(container);
        return std::unexpected(started.error());
    }
    log::debug("run: started");
    if (detach) return 0;
    int pidfd = created.launched.pidfd.get();
    CloseWhenExited unmount_all(std::move(mount_ns), pidfd);
    container.unlock();
    int status = supervise_foreground(pidfd, signal_fd.get(),
                                      created.launched.pty_master ? created.launched.pty_master.get() : -1);
    log::debug("run: the process exited");
    if (mode.keep) return status;
    // Deleted like runc's run does, unless another command removed it meanwhile.
    auto ours = container.relock();
    if (!ours) log::error(ours.error().message);
    if (ours && *ours) {
        auto destroyed = destroy_container(container, created.launched.netns.get());
        if (!destroyed) log::error(destroyed.error().message);
    }
    log::debug("run: deleted");
    return status;
}

}  // namespace hutch::runtime
