// config.json's "linux.resources": the cgroup limits and the device access rules.
#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

// dockerd writes "weight": 0 and "shares": 0 for limits that were not asked for, and runc reads 0
// as "not set"; so does hutch, rather than write a 0 that the kernel refuses or clamps.
template <typename T>
void zero_means_unset(std::optional<T>& value) {
    if (value && *value == 0) value.reset();
}

using json::Json;

ErrorOr<DeviceRule> parse_device_rule(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    DeviceRule rule;
    rule.allow = TRY(json::require<bool>(value, path, "allow"));
    // Go clients cannot tell "" from absent, so "" means the default here too.
    TRY(json::read(value, path, "type", rule.type));
    if (rule.type.empty()) rule.type = "a";
    if (rule.type != "a" && rule.type != "c" && rule.type != "b") {
        return fail(path + ".type: unknown device type \"" + rule.type + "\" (expected a, c or b)");
    }
    TRY(json::read(value, path, "major", rule.major));
    TRY(json::read(value, path, "minor", rule.minor));
    TRY(json::read(value, path, "access", rule.access));
    if (rule.access.empty()) rule.access = "rwm";
    if (rule.access.find_first_not_of("rwm") != std::string::npos) {
        return fail(path + ".access: \"" + rule.access + "\" must contain only r, w and m");
    }
    return rule;
}

ErrorOr<std::optional<MemoryResources>> parse_memory(const Json& resources, const std::string& parent) {
    const Json* value = json::member(resources, "memory");
    if (!value) return std::nullopt;
    const std::string path = parent + ".memory";
    TRY(json::expect_object(*value, path));
    MemoryResources memory;
    TRY(json::read(*value, path, "limit", memory.limit));
    TRY(json::read(*value, path, "reservation", memory.reservation));
    TRY(json::read(*value, path, "swap", memory.swap));
    TRY(json::read(*value, path, "kernel", memory.kernel));
    TRY(json::read(*value, path, "kernelTCP", memory.kernel_tcp));
    TRY(json::read(*value, path, "swappiness", memory.swappiness));
    if (memory.swappiness && *memory.swappiness > 100)
        return fail(path + ".swappiness: must be between 0 and 100");
    TRY(json::read(*value, path, "disableOOMKiller", memory.disable_oom_killer));
    TRY(json::read(*value, path, "useHierarchy", memory.use_hierarchy));
    TRY(json::read(*value, path, "checkBeforeUpdate", memory.check_before_update));
    return memory;
}

ErrorOr<std::optional<CpuResources>> parse_cpu(const Json& resources, const std::string& parent) {
    const Json* value = json::member(resources, "cpu");
    if (!value) return std::nullopt;
    const std::string path = parent + ".cpu";
    TRY(json::expect_object(*value, path));
    CpuResources cpu;
    TRY(json::read(*value, path, "shares", cpu.shares));
    zero_means_unset(cpu.shares);
    TRY(json::read(*value, path, "quota", cpu.quota));
    TRY(json::read(*value, path, "burst", cpu.burst));
    TRY(json::read(*value, path, "period", cpu.period));
    TRY(json::read(*value, path, "realtimeRuntime", cpu.realtime_runtime));
    TRY(json::read(*value, path, "realtimePeriod", cpu.realtime_period));
    TRY(json::read(*value, path, "cpus", cpu.cpus));
    TRY(json::read(*value, path, "mems", cpu.mems));
    TRY(json::read(*value, path, "idle", cpu.idle));
    return cpu;
}

ErrorOr<WeightDevice> parse_weight_device(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    WeightDevice device;
    device.major = TRY(json::require<int64_t>(value, path, "major"));
    device.minor = TRY(json::require<int64_t>(value, path, "minor"));
    TRY(json::read(value, path, "weight", device.weight));
    TRY(json::read(value, path, "leafWeight", device.leaf_weight));
    return device;
}

ErrorOr<ThrottleDevice> parse_throttle_device(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    ThrottleDevice device;
    device.major = TRY(json::require<int64_t>(value, path, "major"));
    device.minor = TRY(json::require<int64_t>(value, path, "minor"));
    device.rate = TRY(json::require<uint64_t>(value, path, "rate"));
    return device;
}

ErrorOr<std::optional<BlockIoResources>> parse_block_io(const Json& resources, const std::string& parent) {
    const Json* value = json::member(resources, "blockIO");
    if (!value) return std::nullopt;
    const std::string path = parent + ".blockIO";
    TRY(json::expect_object(*value, path));
    BlockIoResources io;
    TRY(json::read(*value, path, "weight", io.weight));
    TRY(json::read(*value, path, "leafWeight", io.leaf_weight));
    zero_means_unset(io.weight);
    zero_means_unset(io.leaf_weight);
    TRY(json::read_list(*value, path, "weightDevice", io.weight_device, parse_weight_device));
    TRY(json::read_list(*value, path, "throttleReadBpsDevice", io.throttle_read_bps, parse_throttle_device));
    TRY(json::read_list(*value, path, "throttleWriteBpsDevice", io.throttle_write_bps,
                        parse_throttle_device));
    TRY(json::read_list(*value, path, "throttleReadIOPSDevice", io.throttle_read_iops,
                        parse_throttle_device));
    TRY(json::read_list(*value, path, "throttleWriteIOPSDevice", io.throttle_write_iops,
                        parse_throttle_device));
    return io;
}

ErrorOr<HugepageLimit> parse_hugepage_limit(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    HugepageLimit limit;
    limit.page_size = TRY(json::require<std::string>(value, path, "pageSize"));
    limit.limit = TRY(json::require<uint64_t>(value, path, "limit"));
    return limit;
}

ErrorOr<std::pair<std::string, uint32_t>> parse_priority(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    auto name = TRY(json::require<std::string>(value, path, "name"));
    auto priority = TRY(json::require<uint32_t>(value, path, "priority"));
    return std::pair{std::move(name), priority};
}

ErrorOr<std::optional<NetworkResources>> parse_network(const Json& resources, const std::string& parent) {
    const Json* value = json::member(resources, "network");
    if (!value) return std::nullopt;
    const std::string path = parent + ".network";
    TRY(json::expect_object(*value, path));
    NetworkResources network;
    TRY(json::read(*value, path, "classID", network.class_id));
    TRY(json::read_list(*value, path, "priorities", network.priorities, parse_priority));
    return network;
}

ErrorOr<std::optional<int64_t>> parse_pids(const Json& resources, const std::string& parent) {
    const Json* value = json::member(resources, "pids");
    if (!value) return std::nullopt;
    TRY(json::expect_object(*value, parent + ".pids"));
    return TRY(json::require<int64_t>(*value, parent + ".pids", "limit"));
}

ErrorOr<std::map<std::string, RdmaLimit>> parse_rdma(const Json& resources, const std::string& parent) {
    std::map<std::string, RdmaLimit> out;
    const Json* value = json::member(resources, "rdma");
    if (!value) return out;
    const std::string path = parent + ".rdma";
    TRY(json::expect_object(*value, path));
    for (const auto& [device, limits] : value->items()) {
        std::string at = path + "." + device;
        if (device.empty() || device.find_first_of(" \t\n/") != std::string::npos)
            return fail(at + ": not a device name");
        TRY(json::expect_object(limits, at));
        RdmaLimit limit;
        TRY(json::read(limits, at, "hcaHandles", limit.hca_handles));
        TRY(json::read(limits, at, "hcaObjects", limit.hca_objects));
        out[device] = limit;
    }
    return out;
}

// A key names one file in the container's own cgroup directory ("memory.high"): no path, no
// control characters, and the controller's prefix before a dot. Whether the host offers it is
// the driver's to say.
ErrorOr<void> check_unified_key(const std::string& key, const std::string& path) {
    std::string at = path + "[\"" + key + "\"]";
    for (char c : key)
        if (static_cast<unsigned char>(c) < 0x20) return fail(path + ": a key has a control character");
    if (key.find('/') != std::string::npos || key == "." || key == "..")
        return fail(at + ": must name a file in the container's cgroup, not a path");
    size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
        return fail(at + ": expected CONTROLLER.FILE, such as memory.high");
    // cgroup.procs, cgroup.subtree_control, cgroup.kill and the like act on processes and the
    // tree, not on limits: only the two limits among the core files are taken.
    if (key.starts_with("cgroup.") && key != "cgroup.max.depth" && key != "cgroup.max.descendants")
        return fail(at + ": only cgroup.max.depth and cgroup.max.descendants of the core files can be set");
    return {};
}

ErrorOr<std::map<std::string, std::string>> parse_unified(const Json& resources, const std::string& parent) {
    std::map<std::string, std::string> out;
    const Json* value = json::member(resources, "unified");
    if (!value) return out;
    const std::string path = parent + ".unified";
    TRY(json::expect_object(*value, path));
    for (const auto& [key, entry] : value->items()) {
        TRY(check_unified_key(key, path));
        if (!entry.is_string()) return fail(path + "[\"" + key + "\"]: expected a string");
        out[key] = entry.get<std::string>();
    }
    return out;
}

}  // namespace

ErrorOr<Resources> parse_resources(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Resources resources;
    TRY(json::read_list(value, path, "devices", resources.devices, parse_device_rule));
    resources.memory = TRY(parse_memory(value, path));
    resources.cpu = TRY(parse_cpu(value, path));
    resources.pids_limit = TRY(parse_pids(value, path));
    resources.block_io = TRY(parse_block_io(value, path));
    TRY(json::read_list(value, path, "hugepageLimits", resources.hugepage_limits, parse_hugepage_limit));
    resources.network = TRY(parse_network(value, path));
    resources.rdma = TRY(parse_rdma(value, path));
    resources.unified = TRY(parse_unified(value, path));
    return resources;
}

}  // namespace hutch::spec::detail
