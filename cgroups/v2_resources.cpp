#include "cgroups/v2_resources.h"

#include <charconv>
#include <set>

#include "cgroups/cgroup_files.h"
#include "cgroups/drivers.h"
#include "cgroups/resource_values.h"

namespace hutch::cgroups {
namespace {

std::string field_name(std::string_view field) { return "linux.resources." + std::string(field); }

// The directory and the controllers enabled in it (its cgroup.controllers).
struct Target {
    const std::string& dir;
    std::set<std::string> controllers;

    ErrorOr<void> need(std::string_view controller, std::string_view field) const {
        if (controllers.contains(std::string(controller))) return {};
        return fail(field_name(field) + ": the " + std::string(controller) +
                    " controller is not enabled for " + dir +
                    " (the host's cgroup v2 tree does not delegate it)");
    }
    ErrorOr<void> write(std::string_view file, std::string_view value, std::string_view field) const {
        return write_cgroup_file(dir, file, value, field_name(field));
    }
};

ErrorOr<std::set<std::string>> enabled_controllers(const std::string& dir) {
    std::vector<std::string> words = split_words(TRY(read_cgroup_file(dir, "cgroup.controllers")));
    return std::set<std::string>(words.begin(), words.end());
}

ErrorOr<void> refuse(std::string_view field, std::string_view why) {
    return fail(field_name(field) + ": " + std::string(why));
}

ErrorOr<void> apply_memory(const Target& t, const spec::MemoryResources& memory) {
    TRY(t.need("memory", "memory"));
    if (memory.kernel) return refuse("memory.kernel", "cgroup v2 has no separate kernel memory limit");
    if (memory.kernel_tcp) return refuse("memory.kernelTCP", "cgroup v2 has no separate TCP memory limit");
    if (memory.swappiness) return refuse("memory.swappiness", "cgroup v2 has no per-cgroup swappiness");
    if (memory.disable_oom_killer.value_or(false))
        return refuse("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
    if (!memory.use_hierarchy.value_or(true))
        return refuse("memory.useHierarchy", "cgroup v2 is always hierarchical");
    std::optional<std::string> swap = TRY(v2_swap_max(memory.limit, memory.swap));
    // Unlimited swap on a kernel without swap accounting: nothing to limit, as on v1.
    if (swap && !(*swap == "max" && !cgroup_file_exists(t.dir, "memory.swap.max")))
        TRY(t.write("memory.swap.max", *swap, "memory.swap"));
    // 0 means unset, as in runc.
    if (memory.limit.value_or(0) != 0)
        TRY(t.write("memory.max", bytes_or_max(*memory.limit), "memory.limit"));
    if (memory.reservation.value_or(0) != 0)
        TRY(t.write("memory.low", bytes_or_max(*memory.reservation), "memory.reservation"));
    return {};
}

ErrorOr<void> apply_cpu(const Target& t, const spec::CpuResources& cpu) {
    if (cpu.realtime_runtime || cpu.realtime_period)
        return refuse("cpu.realtimeRuntime", "cgroup v2 has no realtime CPU limits");
    bool uses_cpu = cpu.shares || cpu.quota || cpu.period || cpu.burst || cpu.idle;
    if (uses_cpu) TRY(t.need("cpu", "cpu"));
    if (cpu.shares && *cpu.shares != 0)
        TRY(t.write("cpu.weight", std::to_string(cpu_weight_from_shares(*cpu.shares)), "cpu.shares"));
    if (cpu.quota || cpu.period) TRY(t.write("cpu.max", cpu_max(cpu.quota, cpu.period), "cpu.quota"));
    if (cpu.burst) TRY(t.write("cpu.max.burst", std::to_string(*cpu.burst), "cpu.burst"));
    if (cpu.idle) TRY(t.write("cpu.idle", std::to_string(*cpu.idle), "cpu.idle"));
    if (!cpu.cpus.empty() || !cpu.mems.empty())
        TRY(t.need("cpuset", cpu.cpus.empty() ? "cpu.mems" : "cpu.cpus"));
    if (!cpu.cpus.empty()) TRY(t.write("cpuset.cpus", cpu.cpus, "cpu.cpus"));
    if (!cpu.mems.empty()) TRY(t.write("cpuset.mems", cpu.mems, "cpu.mems"));
    return {};
}

std::string device_number(int64_t major, int64_t minor) {
    return std::to_string(major) + ":" + std::to_string(minor);
}

// BFQ takes blkio's weights as they are (io.bfq.weight, 1..1000); otherwise io.weight's scale.
ErrorOr<void> apply_io_weights(const Target& t, const spec::BlockIoResources& io) {
    bool bfq = cgroup_file_exists(t.dir, "io.bfq.weight");
    auto weight = [&](uint16_t w) { return std::to_string(bfq ? w : io_weight_from_blkio(w)); };
    std::string file = bfq ? "io.bfq.weight" : "io.weight";
    if (io.weight) TRY(t.write(file, weight(*io.weight), "blockIO.weight"));
    for (size_t i = 0; i < io.weight_device.size(); ++i) {
        const spec::WeightDevice& device = io.weight_device[i];
        std::string field = "blockIO.weightDevice[" + std::to_string(i) + "]";
        if (device.leaf_weight) return refuse(field + ".leafWeight", "cgroup v2 has no leaf weights");
        if (device.weight)
            TRY(t.write(file, device_number(device.major, device.minor) + " " + weight(*device.weight),
                        field));
    }
    return {};
}

ErrorOr<void> apply_io_max(const Target& t, const std::vector<spec::ThrottleDevice>& devices, const char* key,
                           std::string_view field) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const spec::ThrottleDevice& d = devices[i];
        std::string value = device_number(d.major, d.minor) + " " + key + "=" + std::to_string(d.rate);
        TRY(t.write("io.max", value, std::string(field) + "[" + std::to_string(i) + "]"));
    }
    return {};
}

ErrorOr<void> apply_io(const Target& t, const spec::BlockIoResources& io) {
    TRY(t.need("io", "blockIO"));
    if (io.leaf_weight) return refuse("blockIO.leafWeight", "cgroup v2 has no leaf weights");
    TRY(apply_io_weights(t, io));
    TRY(apply_io_max(t, io.throttle_read_bps, "rbps", "blockIO.throttleReadBpsDevice"));
    TRY(apply_io_max(t, io.throttle_write_bps, "wbps", "blockIO.throttleWriteBpsDevice"));
    TRY(apply_io_max(t, io.throttle_read_iops, "riops", "blockIO.throttleReadIOPSDevice"));
    TRY(apply_io_max(t, io.throttle_write_iops, "wiops", "blockIO.throttleWriteIOPSDevice"));
    return {};
}

ErrorOr<void> apply_hugepages(const Target& t, const std::vector<spec::HugepageLimit>& limits) {
    TRY(t.need("hugetlb", "hugepageLimits"));
    for (size_t i = 0; i < limits.size(); ++i) {
        std::string field = "hugepageLimits[" + std::to_string(i) + "]";
        std::string stem = "hugetlb." + limits[i].page_size;
        TRY(t.write(stem + ".max", std::to_string(limits[i].limit), field));
        // Reservations count too where the kernel tracks them (5.7+), as runc sets both.
        if (cgroup_file_exists(t.dir, stem + ".rsvd.max"))
            TRY(t.write(stem + ".rsvd.max", std::to_string(limits[i].limit), field));
    }
    return {};
}

ErrorOr<void> apply_rdma(const Target& t, const std::map<std::string, spec::RdmaLimit>& limits) {
    TRY(t.need("rdma", "rdma"));
    for (const auto& [device, limit] : limits)
        TRY(t.write("rdma.max", rdma_line(device, limit), "rdma." + device));
    return {};
}

// A key's controller is the part before its first dot ("memory" of "memory.high").
ErrorOr<void> apply_unified(const Target& t, const std::map<std::string, std::string>& unified) {
    for (const auto& [key, value] : unified) {
        std::string field = "unified[\"" + key + "\"]";
        std::string controller = key.substr(0, key.find('.'));
        if (controller != "cgroup") TRY(t.need(controller, field));
        TRY(t.write(key, value, field));
    }
    return {};
}

ErrorOr<void> check_memory_before_update(const std::string& dir, const spec::MemoryResources& memory) {
    if (!memory.check_before_update.value_or(false)) return {};
    int64_t limit = memory.limit.value_or(-1);
    if (limit < 0) return {};
    std::string current = TRY(read_cgroup_file(dir, "memory.current"));
    int64_t usage = 0;
    std::from_chars(current.data(), current.data() + current.size(), usage);
    if (usage <= limit) return {};
    return fail("linux.resources.memory.limit: " + std::to_string(limit) + " is below the usage now (" +
                current + " bytes) and checkBeforeUpdate is set");
}

}  // namespace

ErrorOr<spec::Resources> prepare_v2_update(const std::string& dir, const spec::Resources& resources) {
    if (!resources.devices.empty())
        return fail("linux.resources.devices: update does not change a container's device policy");
    if (resources.memory) TRY(check_memory_before_update(dir, *resources.memory));
    spec::Resources update = resources;
    if (update.cpu && update.cpu->period && !update.cpu->quota)
        update.cpu->quota = TRY_CTX(quota_of_cpu_max(TRY(read_cgroup_file(dir, "cpu.max"))), dir);
    return update;
}

ErrorOr<void> apply_v2_limits(const std::string& dir, const spec::Resources& r) {
    Target t{dir, TRY(enabled_controllers(dir))};
    if (r.memory) TRY(apply_memory(t, *r.memory));
    if (r.cpu) TRY(apply_cpu(t, *r.cpu));
    if (r.pids_limit) {
        TRY(t.need("pids", "pids"));
        TRY(t.write("pids.max", *r.pids_limit <= 0 ? "max" : std::to_string(*r.pids_limit), "pids.limit"));
    }
    if (r.block_io) TRY(apply_io(t, *r.block_io));
    if (!r.hugepage_limits.empty()) TRY(apply_hugepages(t, r.hugepage_limits));
    if (r.network)
        return refuse("network", "net_cls and net_prio are cgroup v1 controllers, absent on cgroup v2");
    if (!r.rdma.empty()) TRY(apply_rdma(t, r.rdma));
    return apply_unified(t, r.unified);
}

}  // namespace hutch::cgroups
