// `start`: release the process waiting on exec.fifo, then the poststart hooks.
#include <sys/syscall.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "runtime/create_internal.h"
#include "runtime/hooks.h"

namespace hutch::runtime {

UniqueFd open_container_pidfd(const ContainerState& state) {
    if (state.pid <= 0) return {};
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, state.pid, 0)));
    // Checked after opening: if the start time still matches now, the pidfd is for our process.
    if (pidfd && process_start_time(state.pid) != state.pid_start_time) pidfd.reset();
    return pidfd;
}

namespace {

ErrorOr<void> after_release(Container& container, ErrorOr<void> released) {
    TRY_CTX(std::move(released), "start " + container.state.id);
    // The process has exec'd by now (the fifo or channel closes on exec): the state says running.
    if (container.state.poststart.empty()) return {};
    run_hooks_warning("poststart", container.state.poststart, json_text(container.spec_state()),
                      {.cwd = container.state.bundle});
    return {};
}

}  // namespace

ErrorOr<void> start_created(Container& container, int pidfd) {
    return after_release(container, release_fifo(container.fifo_path(), pidfd));
}

ErrorOr<void> start_created(Container& container, const Launched& launched) {
    if (!launched.channel) return start_created(container, launched.pidfd.get());
    return after_release(container, release_on_channel(*launched.channel, launched.start_sent));
}

ErrorOr<void> start(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    if (status != Status::created)
        return fail("cannot start container " + id + " in status " + status_name(status) +
                    ": it must be created");
    UniqueFd pidfd = open_container_pidfd(container.state);
    if (!pidfd) return fail("container " + id + ": its process is gone");
    return start_created(container, pidfd.get());
}

}  // namespace hutch::runtime
