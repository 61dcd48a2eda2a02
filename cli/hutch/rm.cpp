// hutch rm: the container's directory (its writable layer, log and record) removed; with -f a
// live container is killed first.
#include <cstdio>

#include "cli/hutch/container_verbs.h"
#include "cli/hutch/failure_line.h"
#include "cli/hutch/monitor.h"
#include "runtime/runtime.h"

namespace hutch::cli {
namespace {

// A container whose record cannot be read: what it is made of is known from the layout alone,
// its runtime container (killed with it) and its directory (its rootfs unmounted first).
ErrorOr<void> remove_unreadable(const ContainerStore& store, const std::string& id) {
    (void)runtime::remove(store.run_root(), id, true);
    return store.remove(id);
}

// Exited and created containers go as they are (docker's rule); a running, paused or starting
// one needs force.
ErrorOr<void> remove_one(const ContainerStore& store, const std::string& name, bool force) {
    auto record = TRY(store.find(name));
    if (record.status == ContainerStatus::unknown) {
        if (!force) return fail("container " + name + " has an unreadable record: rm -f removes it");
        TRY_CTX(remove_unreadable(store, record.id), name);
        return {};
    }
    if (record.status != ContainerStatus::exited) {
        if (!force && record.status != ContainerStatus::created)
            return fail("container " + name + " is " + std::string(to_string(record.status)) +
                        ": stop it first, or use rm -f");
        // A created container's process waits in the runtime for its start: it goes too.
        TRY_CTX(kill_and_reap(store, record), name);
    }
    // --rm containers remove themselves once reaped.
    if (store.find(record.id)) TRY_CTX(store.remove(record.id), name);
    return {};
}

}  // namespace

ErrorOr<void> remove_containers(const Storage& storage, const std::vector<std::string>& names, bool force) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    return for_each_name(names, [&](const std::string& name) -> ErrorOr<void> {
        TRY(remove_one(store, name, force));
        std::printf("%s\n", name.c_str());
        return {};
    });
}

}  // namespace hutch::cli
