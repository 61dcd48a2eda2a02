// The cgroup v1 Stats reader: a controller's counters from the hierarchy it is mounted in.
#include <unistd.h>

#include "cgroups/cgroup_files.h"
#include "cgroups/stat_files.h"
#include "cgroups/stat_readers.h"
#include "cgroups/stats.h"

namespace hutch::cgroups {
namespace {

// cpuacct.stat counts USER_HZ ticks; cpuacct.usage_user and usage_sys (Linux 4.7) count ns.
ErrorOr<void> read_v1_cpuacct(const std::string& dir, Stats::Cpu& cpu) {
    TRY(read_counter(dir, "cpuacct.usage", cpu.total_ns));
    TRY(read_into(dir, "cpuacct.usage_percpu", cpu.per_cpu_ns,
                  [](const std::string& text) { return parse_counter_list(text); }));
    if (cgroup_file_exists(dir, "cpuacct.usage_user")) {
        TRY(read_counter(dir, "cpuacct.usage_user", cpu.user_ns));
        return read_counter(dir, "cpuacct.usage_sys", cpu.kernel_ns);
    }
    Counters ticks = TRY(read_flat(dir, "cpuacct.stat"));
    const uint64_t ns_per_tick = 1'000'000'000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    cpu.user_ns = value_of(ticks, "user") * ns_per_tick;
    cpu.kernel_ns = value_of(ticks, "system") * ns_per_tick;
    return {};
}

ErrorOr<void> read_v1_throttling(const std::string& dir, Stats::Cpu& cpu) {
    Counters stat = TRY(read_flat(dir, "cpu.stat"));
    cpu.periods = value_of(stat, "nr_periods");
    cpu.throttled_periods = value_of(stat, "nr_throttled");
    cpu.throttled_ns = value_of(stat, "throttled_time");
    return {};
}

ErrorOr<void> read_v1_memory(const std::string& dir, Stats& stats) {
    Stats::Memory& memory = stats.memory;
    TRY(read_counter(dir, "memory.usage_in_bytes", memory.usage));
    TRY(read_counter(dir, "memory.max_usage_in_bytes", memory.max_usage));
    TRY(read_counter(dir, "memory.limit_in_bytes", memory.limit));
    TRY(read_counter(dir, "memory.failcnt", memory.failcnt));
    // Without swap accounting (swapaccount=0) the memsw files are not there: swap stays 0.
    TRY(read_counter(dir, "memory.memsw.usage_in_bytes", memory.swap_usage));
    TRY(read_counter(dir, "memory.memsw.limit_in_bytes", memory.swap_limit));
    memory.raw = TRY(read_flat(dir, "memory.stat"));
    // oom_kill is in memory.oom_control since Linux 4.13.
    stats.oom_kills = value_of(TRY(read_flat(dir, "memory.oom_control")), "oom_kill");
    return {};
}

ErrorOr<void> read_v1_pids(const std::string& dir, Stats::Pids& pids) {
    TRY(read_counter(dir, "pids.current", pids.current));
    return read_limit(dir, "pids.max", 0, pids.limit);
}

}  // namespace

ErrorOr<Stats> read_v1_stats(const std::vector<Placement>& placements) {
    Stats stats;
    if (const Placement* p = find_placement(placements, "cpuacct")) TRY(read_v1_cpuacct(p->dir, stats.cpu));
    if (const Placement* p = find_placement(placements, "cpu")) TRY(read_v1_throttling(p->dir, stats.cpu));
    if (const Placement* p = find_placement(placements, "memory")) TRY(read_v1_memory(p->dir, stats));
    if (const Placement* p = find_placement(placements, "pids")) TRY(read_v1_pids(p->dir, stats.pids));
    if (const Placement* p = find_placement(placements, "hugetlb"))
        TRY(read_hugetlb(p->dir, "usage_in_bytes", stats.hugetlb_usage));
    return stats;
}

}  // namespace hutch::cgroups
