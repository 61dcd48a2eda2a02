// hutch rm: the container's directory (its writable layer, log and record) removed; with -f a
// live container is killed first.
#include <cstdio>

#include "cli/hutch/container_verbs.h"
#include "cli/hutch/monitor.h"
#include "runtime/runtime.h"

namespace hutch::cli {

ErrorOr<void> remove_containers(const Storage& storage, const std::vector<std::string>& names, bool force) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        auto record = TRY(store.find(name));
        if (record.status != "exited") {
            if (!force)
                return fail("container " + name + " is " + record.status + ": stop it first, or use rm -f");
            TRY_CTX(kill_and_reap(store, record), name);
        }
        // --rm containers remove themselves once reaped.
        if (store.find(record.id)) TRY_CTX(store.remove(record.id), name);
        std::printf("%s\n", name.c_str());
    }
    return {};
}

}  // namespace hutch::cli
