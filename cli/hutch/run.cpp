// hutch run, create and start: a container set up from its image (container_setup.h), then
// handed to its monitor (monitor.h): this process in the foreground, a process of its own with
// -d or for a container created to be started later.
#include <cstdio>

#include "cli/hutch/backend_choice.h"
#include "cli/hutch/container_verbs.h"
#include "cli/hutch/monitor.h"

namespace hutch::cli {
namespace {

// A container that never ran is kept, as docker keeps it, unless --rm asked for it to go.
template <typename T>
ErrorOr<T> discard_on_error(const ContainerStore& store, const ContainerRecord& record, ErrorOr<T> result) {
    if (!result && record.remove_on_exit) (void)store.remove(record.id);
    return result;
}

}  // namespace

ErrorOr<int> run_container(const Storage& storage, const RunFlags& flags) {
    if (TRY(choose_run_backend(storage, flags)) == Backend::microvm) return run_in_microvm(storage, flags);
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(set_up_container(store, storage, flags));
    MonitorOptions options{.start = true, .attach = !flags.detach, .interactive = flags.interactive};
    if (!flags.detach) return discard_on_error(store, record, run_attached(store, record, options));
    TRY(discard_on_error(store, record, spawn_monitor(store, record, options)));
    std::printf("%s\n", record.id.c_str());
    return 0;
}

ErrorOr<void> create_container(const Storage& storage, const RunFlags& flags) {
    TRY(check_create_backend(storage, flags));
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(set_up_container(store, storage, flags));
    TRY(discard_on_error(store, record, spawn_monitor(store, record, {.start = false})));
    std::printf("%s\n", record.id.c_str());
    return {};
}

ErrorOr<void> start_containers(const Storage& storage, const std::vector<std::string>& names) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        auto record = TRY(store.find(name));
        if (record.status == "created" && record.pid != 0)
            TRY_CTX(start_created(store, record.id), name);
        else if (record.status == "exited")
            TRY_CTX(spawn_monitor(store, record, {.start = true}), name);
        std::printf("%s\n", name.c_str());
    }
    return {};
}

}  // namespace hutch::cli
