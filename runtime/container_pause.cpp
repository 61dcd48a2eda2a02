// `pause` and `resume`: every process of the container stopped (frozen in its cgroups, or its
// whole microVM stopped), and let go on again. Nothing is recorded: the kernel's state is the
// pause, and `state` reads it from there (runtime/backend.h).
#include "runtime/backend.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

ErrorOr<void> pause(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    // A created container can be paused too (its first process waits on exec.fifo), as in runc.
    if (status != Status::running && status != Status::created)
        return fail("cannot pause container " + id + ": container not running (" + status_name(status) + ")");
    TRY_CTX(backend_of(container.state).set_paused(container, true), "pause container " + id);
    return {};
}

ErrorOr<void> resume(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    if (status != Status::paused)
        return fail("cannot resume container " + id + ": container not paused (" + status_name(status) + ")");
    TRY_CTX(backend_of(container.state).set_paused(container, false), "resume container " + id);
    return {};
}

}  // namespace hutch::runtime
