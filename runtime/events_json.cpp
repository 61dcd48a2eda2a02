#include "runtime/events_json.h"

namespace hutch::runtime {
namespace {

using Json = nlohmann::ordered_json;

// Go's omitempty: a zero number or an empty list is left out.
template <typename T>
void put_unless_empty(Json& object, const char* key, const T& value) {
    if constexpr (std::is_arithmetic_v<T>) {
        if (value != 0) object[key] = value;
    } else {
        if (!value.empty()) object[key] = value;
    }
}

Json cpu_json(const cgroups::Stats::Cpu& cpu) {
    Json usage = Json::object();
    put_unless_empty(usage, "total", cpu.total_ns);
    put_unless_empty(usage, "percpu", cpu.per_cpu_ns);
    usage["kernel"] = cpu.kernel_ns;
    usage["user"] = cpu.user_ns;
    Json throttling = Json::object();
    put_unless_empty(throttling, "periods", cpu.periods);
    put_unless_empty(throttling, "throttledPeriods", cpu.throttled_periods);
    put_unless_empty(throttling, "throttledTime", cpu.throttled_ns);
    return {{"usage", usage}, {"throttling", throttling}};
}

// runc's "cache": memory.stat's cache (v1) or file (v2) bytes.
uint64_t page_cache(const std::map<std::string, uint64_t>& raw) {
    for (const char* key : {"cache", "file"})
        if (auto it = raw.find(key); it != raw.end()) return it->second;
    return 0;
}

Json memory_json(const cgroups::Stats::Memory& memory) {
    Json out = Json::object();
    put_unless_empty(out, "cache", page_cache(memory.raw));
    Json usage = {{"limit", memory.limit}};
    put_unless_empty(usage, "usage", memory.usage);
    put_unless_empty(usage, "max", memory.max_usage);
    usage["failcnt"] = memory.failcnt;
    out["usage"] = usage;
    // Memory+swap, as v1's memsw; a host without swap accounting offers neither number.
    if (memory.swap_limit != 0 || memory.swap_usage != 0) {
        Json swap = {{"limit", memory.swap_limit}};
        put_unless_empty(swap, "usage", memory.swap_usage);
        out["swap"] = swap;
    }
    put_unless_empty(out, "raw", memory.raw);
    return out;
}

Json pids_json(const cgroups::Stats::Pids& pids) {
    Json out = Json::object();
    put_unless_empty(out, "current", pids.current);
    put_unless_empty(out, "limit", pids.limit);
    return out;
}

Json hugetlb_json(const std::map<std::string, uint64_t>& usage) {
    Json out = Json::object();
    for (const auto& [page_size, bytes] : usage) out[page_size] = {{"usage", bytes}};
    return out;
}

}  // namespace

nlohmann::ordered_json stats_event(const std::string& id, const cgroups::Stats& stats) {
    Json data = {{"cpu", cpu_json(stats.cpu)},
                 {"memory", memory_json(stats.memory)},
                 {"pids", pids_json(stats.pids)},
                 {"hugetlb", hugetlb_json(stats.hugetlb_usage)}};
    return {{"type", "stats"}, {"id", id}, {"data", data}};
}

nlohmann::ordered_json oom_event(const std::string& id) { return {{"type", "oom"}, {"id", id}}; }

}  // namespace hutch::runtime
