// `pause` and `resume`: every process of the container frozen in its cgroups, and thawed again.
// Nothing is recorded: the freezer's state is the pause, and `state` reads it from the kernel.
#include "cgroups/manager.h"
#include "runtime/backend.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

ErrorOr<void> pause(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    TRY(require_host_backend(container.state, "pause"));
    Status status = container.status();
    // A created container can be paused too (its first process waits on exec.fifo), as in runc.
    if (status != Status::running && status != Status::created)
        return fail("cannot pause container " + id + ": container not running (" + status_name(status) + ")");
    TRY_CTX(cgroups::manager_from_paths(container.state.cgroup_paths)->freeze(), "pause container " + id);
    return {};
}

ErrorOr<void> resume(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    TRY(require_host_backend(container.state, "resume"));
    Status status = container.status();
    if (status != Status::paused)
        return fail("cannot resume container " + id + ": container not paused (" + status_name(status) + ")");
    TRY_CTX(cgroups::manager_from_paths(container.state.cgroup_paths)->thaw(), "resume container " + id);
    return {};
}

}  // namespace hutch::runtime
