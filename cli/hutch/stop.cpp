// hutch stop and kill: signals through the runtime (runtime::kill), the end seen by the monitor.
#include <cstdio>

#include "base/log.h"
#include "cli/hutch/container_verbs.h"
#include "cli/hutch/failure_line.h"
#include "cli/hutch/monitor.h"
#include "runtime/runtime.h"

namespace hutch::cli {
namespace {

bool is_live(const ContainerRecord& record) { return record.status != ContainerStatus::exited; }

// A paused container gets its signal once thawed, as docker stop does it.
ErrorOr<void> signal_container(const ContainerStore& store, const ContainerRecord& record, int signal,
                               bool all) {
    TRY(runtime::kill(store.run_root(), record.id, signal, all));
    if (record.status == ContainerStatus::paused) {
        // Only from paused: the signal may have ended it already, and its monitor recorded so.
        TRY(store.transition(record.id, {ContainerStatus::paused}, ContainerStatus::running,
                             [&](ContainerRecord&) { return runtime::resume(store.run_root(), record.id); }));
    }
    return {};
}

// The stop signal, then SIGKILL after the timeout, whatever came before: a stop signal that does
// not parse (a record from before it was checked at create) is skipped, not a reason to fail.
ErrorOr<void> stop_one(const ContainerStore& store, const std::string& name, std::chrono::seconds timeout) {
    auto record = TRY(store.find(name));
    if (!is_live(record)) return {};
    if (auto signal = runtime::parse_signal(record.stop_signal)) {
        // The process may end by itself meanwhile: the wait below tells.
        (void)signal_container(store, record, *signal, false);
        if (TRY(wait_until_exited(store, record.id, timeout))) return {};
    } else {
        log::warn(name + ": StopSignal " + record.stop_signal + " is not a signal: SIGKILL");
    }
    TRY_CTX(kill_and_reap(store, record), name);
    return {};
}

}  // namespace

ErrorOr<void> stop_containers(const Storage& storage, const std::vector<std::string>& names, int timeout) {
    if (timeout < 0) return fail("stop -t " + std::to_string(timeout) + ": expected 0 or more seconds");
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    return for_each_name(names, [&](const std::string& name) -> ErrorOr<void> {
        TRY(stop_one(store, name, std::chrono::seconds(timeout)));
        std::printf("%s\n", name.c_str());
        return {};
    });
}

ErrorOr<void> kill_containers(const Storage& storage, const std::vector<std::string>& names,
                              const std::string& signal_name) {
    int signal = TRY_CTX(runtime::parse_signal(signal_name), "--signal");
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    return for_each_name(names, [&](const std::string& name) -> ErrorOr<void> {
        auto record = TRY(store.find(name));
        if (!is_live(record)) return fail("container " + name + " is not running");
        TRY_CTX(runtime::kill(store.run_root(), record.id, signal, false), name);
        std::printf("%s\n", name.c_str());
        return {};
    });
}

}  // namespace hutch::cli
