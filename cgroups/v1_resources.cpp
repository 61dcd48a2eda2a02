#include "cgroups/v1_resources.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>

#include "cgroups/cgroup_files.h"
#include "cgroups/device_rules.h"
#include "cgroups/resource_values.h"

namespace hutch::cgroups {
namespace {

constexpr std::string_view kPrefix = "linux.resources.";

std::string field_name(std::string_view field) { return std::string(kPrefix) + std::string(field); }

// The directory for controller, or an error naming the field that needs it.
ErrorOr<std::string> dir_for(const std::vector<Placement>& placements, std::string_view controller,
                             std::string_view field) {
    const Placement* placement = find_placement(placements, controller);
    if (!placement) {
        return fail(field_name(field) + ": the " + std::string(controller) +
                    " controller is not mounted on this host");
    }
    return placement->dir;
}

template <typename T>
ErrorOr<void> write_optional(const std::string& dir, std::string_view file, const std::optional<T>& value,
                             std::string_view field) {
    if (!value) return {};
    return write_cgroup_file(dir, file, std::to_string(*value), field_name(field));
}

std::string bool_value(bool value) { return value ? "1" : "0"; }

// memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes, at any moment: when the
// new memory+swap limit is below the current memory limit, memory goes first, else memsw first
// (runc's order). -1 (unlimited) is accepted by the kernel as written.
ErrorOr<void> write_memory_and_swap(const std::string& dir, const spec::MemoryResources& memory) {
    std::optional<int64_t> swap = memory.swap;
    if (swap && *swap == -1 && !cgroup_file_exists(dir, "memory.memsw.limit_in_bytes")) {
        swap.reset();  // unlimited swap on a kernel without swap accounting: nothing to limit
    }
    bool swap_first = false;
    if (memory.limit && swap) {
        std::string current = TRY(read_cgroup_file(dir, "memory.limit_in_bytes"));
        uint64_t current_limit = UINT64_MAX;
        std::from_chars(current.data(), current.data() + current.size(), current_limit);
        swap_first = *swap == -1 || current_limit < static_cast<uint64_t>(*swap);
    }
    if (swap_first) TRY(write_optional(dir, "memory.memsw.limit_in_bytes", swap, "memory.swap"));
    TRY(write_optional(dir, "memory.limit_in_bytes", memory.limit, "memory.limit"));
    if (!swap_first) TRY(write_optional(dir, "memory.memsw.limit_in_bytes", swap, "memory.swap"));
    return {};
}

ErrorOr<void> apply_memory(const std::vector<Placement>& placements, const spec::MemoryResources& memory) {
    std::string dir = TRY(dir_for(placements, "memory", "memory"));
    // use_hierarchy can only change while the cgroup has no children: set it before anything else.
    if (memory.use_hierarchy) {
        TRY(write_cgroup_file(dir, "memory.use_hierarchy", bool_value(*memory.use_hierarchy),
                              field_name("memory.useHierarchy")));
    }
    TRY(write_memory_and_swap(dir, memory));
    TRY(write_optional(dir, "memory.soft_limit_in_bytes", memory.reservation, "memory.reservation"));
    TRY(write_optional(dir, "memory.kmem.limit_in_bytes", memory.kernel, "memory.kernel"));
    TRY(write_optional(dir, "memory.kmem.tcp.limit_in_bytes", memory.kernel_tcp, "memory.kernelTCP"));
    TRY(write_optional(dir, "memory.swappiness", memory.swappiness, "memory.swappiness"));
    if (memory.disable_oom_killer) {
        TRY(write_cgroup_file(dir, "memory.oom_control", bool_value(*memory.disable_oom_killer),
                              field_name("memory.disableOOMKiller")));
    }
    return {};
}

bool uses_cpu_controller(const spec::CpuResources& cpu) {
    return cpu.shares || cpu.quota || cpu.period || cpu.burst || cpu.realtime_runtime ||
           cpu.realtime_period || cpu.idle;
}

ErrorOr<void> apply_cpu_controller(const std::vector<Placement>& placements, const spec::CpuResources& cpu) {
    std::string dir = TRY(dir_for(placements, "cpu", "cpu"));
    TRY(write_optional(dir, "cpu.shares", cpu.shares, "cpu.shares"));
    // The period first: the kernel checks a quota against the period in force; burst needs a quota.
    TRY(write_optional(dir, "cpu.cfs_period_us", cpu.period, "cpu.period"));
    TRY(write_optional(dir, "cpu.cfs_quota_us", cpu.quota, "cpu.quota"));
    TRY(write_optional(dir, "cpu.cfs_burst_us", cpu.burst, "cpu.burst"));
    TRY(write_optional(dir, "cpu.rt_period_us", cpu.realtime_period, "cpu.realtimePeriod"));
    TRY(write_optional(dir, "cpu.rt_runtime_us", cpu.realtime_runtime, "cpu.realtimeRuntime"));
    TRY(write_optional(dir, "cpu.idle", cpu.idle, "cpu.idle"));
    return {};
}

ErrorOr<void> apply_cpuset(const std::vector<Placement>& placements, const spec::CpuResources& cpu) {
    if (cpu.cpus.empty() && cpu.mems.empty()) return {};
    std::string dir = TRY(dir_for(placements, "cpuset", cpu.cpus.empty() ? "cpu.mems" : "cpu.cpus"));
    if (!cpu.cpus.empty()) TRY(write_cgroup_file(dir, "cpuset.cpus", cpu.cpus, field_name("cpu.cpus")));
    if (!cpu.mems.empty()) TRY(write_cgroup_file(dir, "cpuset.mems", cpu.mems, field_name("cpu.mems")));
    return {};
}

ErrorOr<void> apply_pids(const std::vector<Placement>& placements, int64_t limit) {
    std::string dir = TRY(dir_for(placements, "pids", "pids"));
    std::string value = limit <= 0 ? "max" : std::to_string(limit);
    return write_cgroup_file(dir, "pids.max", value, field_name("pids.limit"));
}

std::string device_number(int64_t major, int64_t minor) {
    return std::to_string(major) + ":" + std::to_string(minor);
}

// CFQ's blkio.weight files went with CFQ (Linux 5.0); BFQ offers blkio.bfq.weight instead.
std::string weight_file(const std::string& dir, std::string_view stem) {
    std::string plain = "blkio." + std::string(stem);
    return cgroup_file_exists(dir, plain) ? plain : "blkio.bfq." + std::string(stem);
}

ErrorOr<void> apply_weight_devices(const std::string& dir, const std::vector<spec::WeightDevice>& devices) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const spec::WeightDevice& device = devices[i];
        std::string field = field_name("blockIO.weightDevice[" + std::to_string(i) + "]");
        std::string number = device_number(device.major, device.minor);
        if (device.weight) {
            TRY(write_cgroup_file(dir, weight_file(dir, "weight_device"),
                                  number + " " + std::to_string(*device.weight), field + ".weight"));
        }
        if (device.leaf_weight) {
            TRY(write_cgroup_file(dir, "blkio.leaf_weight_device",
                                  number + " " + std::to_string(*device.leaf_weight), field + ".leafWeight"));
        }
    }
    return {};
}

ErrorOr<void> apply_throttle(const std::string& dir, std::string_view file,
                             const std::vector<spec::ThrottleDevice>& devices, std::string_view field) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const spec::ThrottleDevice& device = devices[i];
        std::string value = device_number(device.major, device.minor) + " " + std::to_string(device.rate);
        TRY(write_cgroup_file(dir, file, value,
                              field_name(std::string(field) + "[" + std::to_string(i) + "]")));
    }
    return {};
}

ErrorOr<void> apply_block_io(const std::vector<Placement>& placements, const spec::BlockIoResources& io) {
    std::string dir = TRY(dir_for(placements, "blkio", "blockIO"));
    if (io.weight) {
        TRY(write_cgroup_file(dir, weight_file(dir, "weight"), std::to_string(*io.weight),
                              field_name("blockIO.weight")));
    }
    TRY(write_optional(dir, "blkio.leaf_weight", io.leaf_weight, "blockIO.leafWeight"));
    TRY(apply_weight_devices(dir, io.weight_device));
    TRY(apply_throttle(dir, "blkio.throttle.read_bps_device", io.throttle_read_bps,
                       "blockIO.throttleReadBpsDevice"));
    TRY(apply_throttle(dir, "blkio.throttle.write_bps_device", io.throttle_write_bps,
                       "blockIO.throttleWriteBpsDevice"));
    TRY(apply_throttle(dir, "blkio.throttle.read_iops_device", io.throttle_read_iops,
                       "blockIO.throttleReadIOPSDevice"));
    TRY(apply_throttle(dir, "blkio.throttle.write_iops_device", io.throttle_write_iops,
                       "blockIO.throttleWriteIOPSDevice"));
    return {};
}

ErrorOr<void> apply_hugepages(const std::vector<Placement>& placements,
                              const std::vector<spec::HugepageLimit>& limits) {
    const Placement* placement = find_placement(placements, "hugetlb");
    if (!placement) {
        // In the hybrid layout hugetlb may be bound to the v2 hierarchy, whose cgroups this
        // driver neither creates nor owns; writing there would touch cgroups hutch did not make.
        return fail(field_name("hugepageLimits") +
                    ": the hugetlb controller is not mounted as a cgroup v1 hierarchy on this host");
    }
    for (size_t i = 0; i < limits.size(); ++i) {
        std::string file = "hugetlb." + limits[i].page_size + ".limit_in_bytes";
        TRY(write_cgroup_file(placement->dir, file, std::to_string(limits[i].limit),
                              field_name("hugepageLimits[" + std::to_string(i) + "]")));
    }
    return {};
}

ErrorOr<void> apply_network(const std::vector<Placement>& placements, const spec::NetworkResources& network) {
    if (network.class_id) {
        std::string dir = TRY(dir_for(placements, "net_cls", "network"));
        TRY(write_cgroup_file(dir, "net_cls.classid", std::to_string(*network.class_id),
                              field_name("network.classID")));
    }
    if (network.priorities.empty()) return {};
    std::string dir = TRY(dir_for(placements, "net_prio", "network"));
    for (size_t i = 0; i < network.priorities.size(); ++i) {
        const auto& [interface, priority] = network.priorities[i];
        TRY(write_cgroup_file(dir, "net_prio.ifpriomap", interface + " " + std::to_string(priority),
                              field_name("network.priorities[" + std::to_string(i) + "]")));
    }
    return {};
}

// "mlx5_1 hca_handle=2 hca_object=2000", the same line in v1 and v2.
ErrorOr<void> apply_rdma(const std::vector<Placement>& placements,
                         const std::map<std::string, spec::RdmaLimit>& limits) {
    std::string dir = TRY(dir_for(placements, "rdma", "rdma"));
    for (const auto& [device, limit] : limits) {
        std::string line = rdma_line(device, limit);
        TRY(write_cgroup_file(dir, "rdma.max", line, field_name("rdma." + device)));
    }
    return {};
}

ErrorOr<void> apply_devices(const std::vector<Placement>& placements,
                            const std::vector<spec::DeviceRule>& rules) {
    const Placement* placement = find_placement(placements, "devices");
    if (!placement) {
        if (rules.empty()) return {};
        return fail(field_name("devices") + ": the devices controller is not mounted on this host");
    }
    // Consecutive rules for the same file go through one open.
    std::vector<DeviceWrite> writes = device_writes(rules);
    for (auto first = writes.begin(); first != writes.end();) {
        auto last =
            std::find_if(first, writes.end(), [&](const DeviceWrite& w) { return w.file != first->file; });
        std::vector<std::string> lines;
        for (auto it = first; it != last; ++it) lines.push_back(it->line);
        TRY(write_cgroup_lines(placement->dir, first->file, lines, field_name("devices")));
        first = last;
    }
    return {};
}

}  // namespace

ErrorOr<void> apply_v1_limits(const std::vector<Placement>& placements, const spec::Resources& r) {
    if (r.memory) TRY(apply_memory(placements, *r.memory));
    if (r.cpu && uses_cpu_controller(*r.cpu)) TRY(apply_cpu_controller(placements, *r.cpu));
    if (r.cpu) TRY(apply_cpuset(placements, *r.cpu));
    if (r.pids_limit) TRY(apply_pids(placements, *r.pids_limit));
    if (r.block_io) TRY(apply_block_io(placements, *r.block_io));
    if (!r.hugepage_limits.empty()) TRY(apply_hugepages(placements, r.hugepage_limits));
    if (r.network) TRY(apply_network(placements, *r.network));
    if (!r.rdma.empty()) TRY(apply_rdma(placements, r.rdma));
    if (!r.unified.empty())
        return fail(field_name("unified") + ": cgroup v2 files, and this host's controllers are cgroup v1");
    return {};
}

ErrorOr<void> apply_v1_resources(const std::vector<Placement>& placements, const spec::Resources* resources) {
    static const spec::Resources kNone;
    const spec::Resources& r = resources ? *resources : kNone;
    TRY(apply_devices(placements, r.devices));
    return apply_v1_limits(placements, r);
}

}  // namespace hutch::cgroups
