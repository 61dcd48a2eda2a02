#include "microvm/agent/guest_limits.h"

#include "base/json.h"
#include "base/json_reader.h"
#include "cgroups/resource_values.h"

namespace hutch::microvm {

namespace {

// As runc reads a limit: 0 leaves it as it is (none, at create), a negative one is no limit.
std::optional<int64_t> guest_limit(std::optional<int64_t> value) {
    if (!value || *value == 0) return std::nullopt;
    return *value < 0 ? -1 : *value;
}

ErrorOr<void> expect_limit(const std::optional<int64_t>& value, const std::string& field) {
    if (value && *value != -1 && *value <= 0) return fail(field + ": neither -1 nor above 0");
    return {};
}

// A file of the cgroup's own directory, named as the kernel names them: "memory.high".
ErrorOr<void> expect_cgroup_file_name(const std::string& name, const std::string& field) {
    bool plain = name.find('.') != std::string::npos && name.find('/') == std::string::npos && name != ".." &&
                 name.front() != '.';
    if (!plain) return fail(field + ": not a cgroup file's name: " + name);
    return {};
}

}  // namespace

GuestLimits guest_limits(const spec::Resources& resources) {
    GuestLimits limits;
    if (resources.memory) {
        limits.memory_bytes = guest_limit(resources.memory->limit);
        limits.memory_low = guest_limit(resources.memory->reservation);
    }
    if (resources.cpu) {
        limits.cpu_quota = guest_limit(resources.cpu->quota);
        if (resources.cpu->period && *resources.cpu->period > 0)
            limits.cpu_period = static_cast<int64_t>(*resources.cpu->period);
        if (resources.cpu->shares && *resources.cpu->shares > 0)
            limits.cpu_weight = cgroups::cpu_weight_from_shares(*resources.cpu->shares);
    }
    limits.pids_max = guest_limit(resources.pids_limit);
    limits.unified = resources.unified;
    return limits;
}

nlohmann::json limits_json(const GuestLimits& limits) {
    auto j = nlohmann::json::object();
    if (limits.memory_bytes) j["memoryBytes"] = *limits.memory_bytes;
    if (limits.memory_low) j["memoryLow"] = *limits.memory_low;
    if (limits.cpu_quota) j["cpuQuota"] = *limits.cpu_quota;
    if (limits.cpu_period) j["cpuPeriod"] = *limits.cpu_period;
    if (limits.cpu_weight) j["cpuWeight"] = *limits.cpu_weight;
    if (limits.pids_max) j["pidsMax"] = *limits.pids_max;
    if (!limits.unified.empty()) j["unified"] = limits.unified;
    return j;
}

ErrorOr<GuestLimits> parse_limits(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestLimits limits;
    TRY(json::read(value, path, "memoryBytes", limits.memory_bytes));
    TRY(json::read(value, path, "memoryLow", limits.memory_low));
    TRY(json::read(value, path, "cpuQuota", limits.cpu_quota));
    TRY(json::read(value, path, "cpuPeriod", limits.cpu_period));
    TRY(json::read(value, path, "cpuWeight", limits.cpu_weight));
    TRY(json::read(value, path, "pidsMax", limits.pids_max));
    TRY(json::read(value, path, "unified", limits.unified));
    TRY(expect_limit(limits.memory_bytes, path + ".memoryBytes"));
    TRY(expect_limit(limits.memory_low, path + ".memoryLow"));
    TRY(expect_limit(limits.cpu_quota, path + ".cpuQuota"));
    TRY(expect_limit(limits.pids_max, path + ".pidsMax"));
    if (limits.cpu_period && (*limits.cpu_period < 1000 || *limits.cpu_period > 1'000'000))
        return fail(path + ".cpuPeriod: not between 1000 and 1000000");
    if (limits.cpu_weight && (*limits.cpu_weight < 1 || *limits.cpu_weight > 10'000))
        return fail(path + ".cpuWeight: not between 1 and 10000");
    for (const auto& [name, text] : limits.unified) TRY(expect_cgroup_file_name(name, path + ".unified"));
    return limits;
}

std::string to_json(const GuestLimits& limits) { return json_text(limits_json(limits)); }

ErrorOr<GuestLimits> parse_guest_limits(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("limits: not JSON");
    return parse_limits(j, "limits");
}

}  // namespace hutch::microvm
