// hutch stop and kill: signals through the runtime (runtime::kill), the end seen by the monitor.
#include <cstdio>

#include "cli/hutch/container_verbs.h"
#include "cli/hutch/monitor.h"
#include "runtime/runtime.h"

namespace hutch::cli {
namespace {

using namespace std::chrono_literals;

bool is_live(const ContainerRecord& record) { return record.status != "exited"; }

// A paused container gets its signal once thawed, as docker stop does it.
ErrorOr<void> signal_container(const ContainerStore& store, const ContainerRecord& record, int signal,
                               bool all) {
    TRY(runtime::kill(store.run_root(), record.id, signal, all));
    if (record.status == "paused") {
        TRY(runtime::resume(store.run_root(), record.id));
        TRY(store.update(record.id, [](ContainerRecord& r) { r.status = "running"; }));
    }
    return {};
}

}  // namespace

ErrorOr<void> stop_containers(const Storage& storage, const std::vector<std::string>& names, int timeout) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        auto record = TRY(store.find(name));
        if (is_live(record)) {
            int signal = TRY_CTX(runtime::parse_signal(record.stop_signal), "StopSignal");
            // The process may end by itself meanwhile: the wait below tells.
            (void)signal_container(store, record, signal, false);
            if (!TRY(wait_until_exited(store, record.id, std::chrono::seconds(timeout))))
                TRY_CTX(kill_and_reap(store, record), name);
        }
        std::printf("%s\n", name.c_str());
    }
    return {};
}

ErrorOr<void> kill_containers(const Storage& storage, const std::vector<std::string>& names,
                              const std::string& signal_name) {
    int signal = TRY_CTX(runtime::parse_signal(signal_name), "--signal");
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        auto record = TRY(store.find(name));
        if (!is_live(record)) return fail("container " + name + " is not running");
        TRY_CTX(runtime::kill(store.run_root(), record.id, signal, false), name);
        std::printf("%s\n", name.c_str());
    }
    return {};
}

}  // namespace hutch::cli
