// hutch pause, unpause and stats: the runtime's freezer and cgroup statistics for the `hutch`
// command's containers.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/hutch/container_verbs.h"
#include "runtime/runtime.h"

namespace hutch::cli {

ErrorOr<void> pause_containers(const Storage& storage, const std::vector<std::string>& names, bool pause) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    for (const auto& name : names) {
        auto record = TRY(store.find(name));
        auto from = pause ? ContainerStatus::running : ContainerStatus::paused;
        auto to = pause ? ContainerStatus::paused : ContainerStatus::running;
        // Under the container's lock: a container that ends meanwhile is recorded "exited" by
        // its monitor after this, not overwritten by it.
        TRY(store.transition(record.id, {from}, to, [&](ContainerRecord&) -> ErrorOr<void> {
            TRY_CTX(pause ? runtime::pause(store.run_root(), record.id)
                          : runtime::resume(store.run_root(), record.id),
                    name);
            return {};
        }));
        std::printf("%s\n", name.c_str());
    }
    return {};
}

namespace {

uint64_t number_at(const nlohmann::json& j, const nlohmann::json::json_pointer& where) {
    if (!j.contains(where) || !j.at(where).is_number_unsigned()) return 0;
    return j.at(where).get<uint64_t>();
}

}  // namespace

ErrorOr<void> show_stats(const Storage& storage, const std::vector<std::string>& names) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    std::vector<ContainerRecord> shown;
    if (names.empty()) {
        for (auto& r : TRY(store.list()))
            if (is_up(r.status)) shown.push_back(std::move(r));
    } else {
        for (const auto& name : names) shown.push_back(TRY(store.find(name)));
    }
    // Every container's numbers first: one that cannot give them fails before any line.
    std::vector<nlohmann::json> events;
    for (const auto& r : shown) {
        std::string line;
        TRY_CTX(runtime::events(store.run_root(), r.id, {.stats = true},
                                [&](const std::string& event) { line = event; }),
                r.name);
        events.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    std::printf("%-12s  %-20s  %12s  %14s  %20s  %6s\n", "ID", "NAME", "CPU TIME (s)", "MEM USAGE",
                "MEM LIMIT", "PIDS");
    for (size_t i = 0; i < shown.size(); ++i) {
        const auto& r = shown[i];
        const auto& j = events[i];
        using Pointer = nlohmann::json::json_pointer;
        double cpu = static_cast<double>(number_at(j, Pointer("/data/cpu/usage/total"))) / 1e9;
        uint64_t limit = number_at(j, Pointer("/data/memory/usage/limit"));
        // cgroup v1 reports "no limit" as the largest page-aligned number.
        std::string limit_text = limit == 0 || limit >= (uint64_t{1} << 62) ? "-" : std::to_string(limit);
        std::printf("%-12s  %-20s  %12.3f  %14llu  %20s  %6llu\n", r.id.substr(0, 12).c_str(), r.name.c_str(),
                    cpu, static_cast<unsigned long long>(number_at(j, Pointer("/data/memory/usage/usage"))),
                    limit_text.c_str(),
                    static_cast<unsigned long long>(number_at(j, Pointer("/data/pids/current"))));
    }
    return {};
}

}  // namespace hutch::cli
