// `delete`: a stopped or created container (or any, with --force) goes away with everything it
// held: processes, cgroups, state directory; poststop hooks run last.
#include <sys/stat.h>

#include "base/json.h"
#include "base/log.h"
#include "runtime/backend.h"
#include "runtime/hooks.h"

namespace hutch::runtime {
ErrorOr<void> destroy_container(Container& container, int held_netns) {
    TRY(backend_of(container.state).destroy(container.state, held_netns));
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
