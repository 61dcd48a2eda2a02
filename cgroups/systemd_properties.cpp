#include "cgroups/systemd_properties.h"

#include <charconv>

#include "cgroups/resource_values.h"

namespace hutch::cgroups {
namespace {

using systemd::Property;

constexpr size_t kMaxMaskBit = 65535;
constexpr uint64_t kDefaultPeriodUsec = 100000;

Property uint64_property(std::string name, uint64_t value) { return {std::move(name), "t", value}; }
Property bool_property(std::string name, bool value) { return {std::move(name), "b", value}; }
Property string_property(std::string name, std::string value) {
    return {std::move(name), "s", std::move(value)};
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n'))
        text.remove_suffix(1);
    return text;
}

std::optional<uint64_t> parse_uint(std::string_view text) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// A spec size where a negative number means unlimited, as bytes_or_max() writes it.
uint64_t bytes_or_infinity(int64_t value) { return value < 0 ? kInfinity : static_cast<uint64_t>(value); }

std::string unified_field(const std::string& key) { return "linux.resources.unified[\"" + key + "\"]"; }

// "max" or a number, as in memory.max and pids.max.
ErrorOr<uint64_t> number_or_max(const std::string& key, const std::string& value) {
    std::string_view text = trim(value);
    if (text == "max") return kInfinity;
    if (auto number = parse_uint(text)) return *number;
    return fail(unified_field(key) + ": \"" + value + "\" is neither a number nor max");
}

// cpu.max: "QUOTA [PERIOD]", QUOTA a number or "max".
ErrorOr<std::vector<Property>> cpu_max_properties(const std::string& key, const std::string& value) {
    std::string_view text = trim(value);
    std::string_view quota_text = text.substr(0, text.find(' '));
    std::string_view period_text =
        quota_text.size() < text.size() ? trim(text.substr(quota_text.size())) : "";
    std::optional<uint64_t> quota = parse_uint(quota_text), period;
    if (!period_text.empty()) period = parse_uint(period_text);
    if ((!quota && quota_text != "max") || (!period_text.empty() && (!period || *period == 0)))
        return fail(unified_field(key) + ": \"" + value + "\" is not \"QUOTA|max [PERIOD]\"");
    std::vector<Property> out;
    if (period) out.push_back(uint64_property("CPUQuotaPeriodUSec", *period));
    std::optional<int64_t> signed_quota;
    if (quota) signed_quota = static_cast<int64_t>(*quota);
    out.push_back(uint64_property("CPUQuotaPerSecUSec", cpu_quota_per_sec_usec(signed_quota, period)));
    return out;
}

// The unified keys that systemd has a property for; the others are written to their files only.
ErrorOr<std::vector<Property>> unified_properties(const std::map<std::string, std::string>& unified) {
    static const std::map<std::string, std::string> kSizes = {
        {"memory.min", "MemoryMin"}, {"memory.low", "MemoryLow"},          {"memory.high", "MemoryHigh"},
        {"memory.max", "MemoryMax"}, {"memory.swap.max", "MemorySwapMax"}, {"pids.max", "TasksMax"}};
    std::vector<Property> out;
    for (const auto& [key, value] : unified) {
        if (auto size = kSizes.find(key); size != kSizes.end()) {
            out.push_back(uint64_property(size->second, TRY(number_or_max(key, value))));
        } else if (key == "cpu.weight") {
            std::optional<uint64_t> weight = parse_uint(trim(value));
            if (!weight) return fail(unified_field(key) + ": \"" + value + "\" is not a number");
            out.push_back(uint64_property("CPUWeight", *weight));
        } else if (key == "cpu.max") {
            for (Property& p : TRY(cpu_max_properties(key, value))) out.push_back(std::move(p));
        } else if (key == "cpuset.cpus" || key == "cpuset.mems") {
            std::vector<uint8_t> mask = TRY(cpu_mask_bytes(value, unified_field(key)));
            out.push_back({key == "cpuset.cpus" ? "AllowedCPUs" : "AllowedMemoryNodes", "ay", mask});
        }
    }
    return out;
}

ErrorOr<void> add_memory(std::vector<Property>& out, const spec::MemoryResources& memory) {
    // 0 means unset, as in runc and in the cgroup files.
    if (memory.limit.value_or(0) != 0)
        out.push_back(uint64_property("MemoryMax", bytes_or_infinity(*memory.limit)));
    if (memory.reservation.value_or(0) != 0)
        out.push_back(uint64_property("MemoryLow", bytes_or_infinity(*memory.reservation)));
    std::optional<std::string> swap = TRY(v2_swap_max(memory.limit, memory.swap));
    if (swap)
        out.push_back(uint64_property("MemorySwapMax", *swap == "max" ? kInfinity : *parse_uint(*swap)));
    return {};
}

ErrorOr<void> add_cpu(std::vector<Property>& out, const spec::CpuResources& cpu) {
    if (cpu.shares && *cpu.shares != 0)
        out.push_back(uint64_property("CPUWeight", cpu_weight_from_shares(*cpu.shares)));
    if (cpu.period && *cpu.period != 0) out.push_back(uint64_property("CPUQuotaPeriodUSec", *cpu.period));
    if (cpu.quota || cpu.period)
        out.push_back(uint64_property("CPUQuotaPerSecUSec", cpu_quota_per_sec_usec(cpu.quota, cpu.period)));
    if (!cpu.cpus.empty())
        out.push_back({"AllowedCPUs", "ay", TRY(cpu_mask_bytes(cpu.cpus, "linux.resources.cpu.cpus"))});
    if (!cpu.mems.empty())
        out.push_back(
            {"AllowedMemoryNodes", "ay", TRY(cpu_mask_bytes(cpu.mems, "linux.resources.cpu.mems"))});
    return {};
}

// systemd's name for the devices of one exception, or nullopt where it has none.
std::optional<std::string> device_allow_path(const std::string& kind, const spec::DeviceRule& rule) {
    if (!rule.major) return rule.minor ? std::nullopt : std::optional<std::string>(kind + "-*");
    if (!rule.minor) return kind + "-" + std::to_string(*rule.major);
    return "/dev/" + kind + "/" + std::to_string(*rule.major) + ":" + std::to_string(*rule.minor);
}

}  // namespace

ErrorOr<std::vector<uint8_t>> cpu_mask_bytes(std::string_view list, std::string_view field) {
    std::vector<uint8_t> bytes;
    auto refuse = [&](std::string_view why) {
        return fail(std::string(field) + ": \"" + std::string(list) + "\": " + std::string(why));
    };
    for (size_t pos = 0; pos <= list.size();) {
        size_t end = std::min(list.find(',', pos), list.size());
        std::string_view item = trim(list.substr(pos, end - pos));
        pos = end + 1;
        if (item.empty()) continue;
        size_t dash = item.find('-');
        std::optional<uint64_t> first = parse_uint(trim(item.substr(0, dash)));
        std::optional<uint64_t> last =
            dash == std::string_view::npos ? first : parse_uint(trim(item.substr(dash + 1)));
        if (!first || !last) return refuse("\"" + std::string(item) + "\" is not N or N-M");
        if (*first > *last) return refuse("the range \"" + std::string(item) + "\" is reversed");
        if (*last > kMaxMaskBit)
            return refuse(std::to_string(*last) + " is above " + std::to_string(kMaxMaskBit));
        if (bytes.size() <= *last / 8) bytes.resize(*last / 8 + 1);
        for (uint64_t i = *first; i <= *last; ++i) bytes[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    }
    if (bytes.empty()) return refuse("lists nothing");
    return bytes;
}

uint64_t cpu_quota_per_sec_usec(std::optional<int64_t> quota, std::optional<uint64_t> period) {
    if (!quota || *quota <= 0) return kInfinity;
    uint64_t per = period && *period > 0 ? *period : kDefaultPeriodUsec;
    auto q = static_cast<uint64_t>(*quota);
    if (q > kInfinity / 1000000) return kInfinity;
    uint64_t usec = q * 1000000 / per;
    if (usec % 10000 != 0) usec = (usec / 10000 + 1) * 10000;
    return usec;
}

std::vector<Property> device_properties(const DevicePolicy& policy) {
    std::vector<Property> auto_policy = {string_property("DevicePolicy", "auto"),
                                         {"DeviceAllow", "a(ss)", nlohmann::json::array()}};
    if (policy.default_allow) return auto_policy;
    nlohmann::json allow = nlohmann::json::array();
    for (const spec::DeviceRule& rule : policy.exceptions) {
        std::vector<std::string> kinds;
        if (rule.type != "b") kinds.push_back("char");  // "c", or "a": both kinds
        if (rule.type != "c") kinds.push_back("block");
        for (const std::string& kind : kinds) {
            std::optional<std::string> path = device_allow_path(kind, rule);
            if (!path) return auto_policy;
            allow.push_back({*path, rule.access});
        }
    }
    return {string_property("DevicePolicy", "strict"), {"DeviceAllow", "a(ss)", allow}};
}

ErrorOr<std::vector<Property>> resource_properties(const spec::Resources& r) {
    std::vector<Property> out;
    if (r.memory) TRY(add_memory(out, *r.memory));
    if (r.cpu) TRY(add_cpu(out, *r.cpu));
    if (r.pids_limit)
        out.push_back(uint64_property("TasksMax",
                                      *r.pids_limit <= 0 ? kInfinity : static_cast<uint64_t>(*r.pids_limit)));
    if (r.block_io && r.block_io->weight)
        out.push_back(uint64_property("IOWeight", io_weight_from_blkio(*r.block_io->weight)));
    for (Property& p : TRY(unified_properties(r.unified))) out.push_back(std::move(p));
    return out;
}

ErrorOr<std::vector<Property>> scope_properties(const std::string& container_id, const std::string& slice,
                                                pid_t pid, const spec::Resources* resources) {
    std::vector<Property> out = {
        string_property("Description", "hutch container " + container_id),
        string_property("Slice", slice),
        bool_property("Delegate", true),
        {"PIDs", "au", nlohmann::json::array({static_cast<uint32_t>(pid)})},
        bool_property("DefaultDependencies", false),
        bool_property("MemoryAccounting", true),
        bool_property("CPUAccounting", true),
        bool_property("TasksAccounting", true),
        bool_property("IOAccounting", true),
    };
    static const spec::Resources kNone;
    const spec::Resources& r = resources ? *resources : kNone;
    for (Property& p : device_properties(device_policy(device_writes(r.devices))))
        out.push_back(std::move(p));
    for (Property& p : TRY(resource_properties(r))) out.push_back(std::move(p));
    return out;
}

}  // namespace hutch::cgroups
