// The monitor: the process that watches one container of the `hutch` command from its creation
// to its end, as conmon watches podman's. It is the container's parent, so it alone can wait for
// it: it writes the container's output to its log (container_log.h), records the exit status and
// time, deletes the runtime's side of the container, unmounts its rootfs and, for --rm, removes
// it. A detached container gets a monitor process of its own that outlives the command; in the
// foreground the `hutch` process itself is the monitor and also shows the output and forwards
// signals. Either way hutch keeps no daemon.
#pragma once

#include <chrono>

#include "base/error.h"
#include "cli/hutch/container_record.h"
#include "cli/hutch/container_setup.h"

namespace hutch::cli {

struct MonitorOptions {
    bool start = true;         // false for `hutch create`: `hutch start` starts it later
    bool attach = false;       // in the foreground: output to our stdout and stderr too
    bool interactive = false;  // -i: the container reads our stdin
    // A new container's: released once the monitor takes the container over.
    SetUpGuard* set_up = nullptr;
};

// In the foreground: creates and starts the container, relays its output and our signals until
// it ends, and returns its exit status (128+N when killed by signal N).
ErrorOr<int> run_attached(const ContainerStore& store, const ContainerRecord& record,
                          const MonitorOptions& options);

// Forks a monitor of its own for the container and returns once the container is created (and,
// with options.start, started), or with the reason it could not be.
ErrorOr<void> spawn_monitor(const ContainerStore& store, const ContainerRecord& record,
                            const MonitorOptions& options);

// Starts a container its monitor created without starting (`hutch create`, then `hutch start`).
ErrorOr<void> start_created(const ContainerStore& store, const std::string& id);

// Waits up to timeout for the container's monitor to record its end. False on timeout, and at
// once when the monitor is gone without having recorded it (killed): the caller cleans up.
ErrorOr<bool> wait_until_exited(const ContainerStore& store, const std::string& id,
                                std::chrono::milliseconds timeout);

// Kills every process of the container and waits for its monitor to record the end; when the
// monitor is gone, does its cleanup here (`rm -f`, `stop` after its timeout).
ErrorOr<void> kill_and_reap(const ContainerStore& store, const ContainerRecord& record);

// What is done once the container's process has ended (also by `rm` for one whose monitor is
// gone): the runtime's delete, the rootfs unmounted, the exit recorded, and for --rm the
// container removed.
ErrorOr<void> finish_container(const ContainerStore& store, const std::string& id, int exit_code);

}  // namespace hutch::cli
