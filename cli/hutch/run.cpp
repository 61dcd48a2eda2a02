// hutch run, create and start: a container set up from its image (container_setup.h), then
// handed to its monitor (monitor.h): this process in the foreground, a process of its own with
// -d or for a container created to be started later.
#include <cstdio>

#include "cli/hutch/backend_choice.h"
#include "cli/hutch/container_verbs.h"
#include "cli/hutch/monitor.h"

namespace hutch::cli {
namespace {

// Claims the container for this start, under its lock ("starting"), so that a second start at
// the same time backs off instead of undoing this one's. Returns the status it had.
ErrorOr<ContainerStatus> claim_start(const ContainerStore& store, const std::string& name,
                                     const std::string& id) {
    ContainerStatus before = ContainerStatus::unknown;
    auto claimed = store.transition(id, {ContainerStatus::created, ContainerStatus::exited},
                                    ContainerStatus::starting, [&](ContainerRecord& r) -> ErrorOr<void> {
                                        before = r.status;
                                        return {};
                                    });
    if (claimed) return before;
    auto now = TRY(store.find(id));
    if (now.status == ContainerStatus::created || now.status == ContainerStatus::exited)
        return std::unexpected(claimed.error());
    return fail("container " + name + " is already " + std::string(to_string(now.status)));
}

// A created container is started in its monitor's runtime container; an exited one gets a new
// monitor, which creates and starts it again.
ErrorOr<void> start_one(const ContainerStore& store, const std::string& name) {
    auto record = TRY(store.find(name));
    ContainerStatus before = TRY(claim_start(store, name, record.id));
    auto started = before == ContainerStatus::created ? start_created(store, record.id)
                                                      : spawn_monitor(store, record, {.start = true});
    // Given back as it was, unless a monitor has recorded an end since.
    if (!started) (void)store.transition(record.id, {ContainerStatus::starting}, before);
    return started;
}

// A container of the store, in the foreground (this process its monitor) or with -d.
ErrorOr<int> run_recorded(const Storage& storage, const RunFlags& flags) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(set_up_container(store, storage, flags));
    SetUpGuard set_up(store, record.id);
    MonitorOptions options{
        .start = true, .attach = !flags.detach, .interactive = flags.interactive, .set_up = &set_up};
    if (!flags.detach) return run_attached(store, record, options);
    TRY(spawn_monitor(store, record, options));
    std::printf("%s\n", record.id.c_str());
    return 0;
}

}  // namespace

// A microVM in the foreground without a name goes straight to its VM, not recorded (run_vm.cpp);
// with -d or --name it is a container of the store like any other.
ErrorOr<int> run_container(const Storage& storage, const RunFlags& flags) {
    if (TRY(choose_run_backend(storage, flags)) == Backend::host) return run_recorded(storage, flags);
    if (!flags.detach && flags.name.empty()) return run_in_microvm(storage, flags);
    return run_recorded(storage, TRY(as_microvm_container(flags)));
}

ErrorOr<void> create_container(const Storage& storage, const RunFlags& given) {
    RunFlags flags = given;
    if (TRY(choose_run_backend(storage, flags)) == Backend::microvm) flags = TRY(as_microvm_container(flags));
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(set_up_container(store, storage, flags));
    SetUpGuard set_up(store, record.id);
    TRY(spawn_monitor(store, record, {.start = false, .set_up = &set_up}));
    std::printf("%s\n", record.id.c_str());
    return {};
}

ErrorOr<void> start_containers(const Storage& storage, const std::vector<std::string>& names) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        TRY(start_one(store, name));
        std::printf("%s\n", name.c_str());
    }
    return {};
}

}  // namespace hutch::cli
