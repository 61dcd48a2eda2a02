// The cgroup v2 Stats reader: every counter from the container's one directory. hutch-agent
// compiles it too, for the container's cgroup in a microVM.
#include "cgroups/cgroup_files.h"
#include "cgroups/stat_readers.h"
#include "cgroups/stats.h"

namespace hutch::cgroups {
namespace {

ErrorOr<void> read_v2_cpu(const std::string& dir, Stats::Cpu& cpu) {
    Counters stat = TRY(read_flat(dir, "cpu.stat"));
    cpu.total_ns = value_of(stat, "usage_usec") * kNsPerUs;
    cpu.user_ns = value_of(stat, "user_usec") * kNsPerUs;
    cpu.kernel_ns = value_of(stat, "system_usec") * kNsPerUs;
    // The three below appear only with the cpu controller enabled for the cgroup.
    cpu.periods = value_of(stat, "nr_periods");
    cpu.throttled_periods = value_of(stat, "nr_throttled");
    cpu.throttled_ns = value_of(stat, "throttled_usec") * kNsPerUs;
    return {};
}

// v2 counts swap alone (memory.swap.*); runc reports memory+swap, as v1's memsw does, and so
// does hutch.
ErrorOr<void> read_v2_swap(const std::string& dir, Stats::Memory& memory) {
    if (!cgroup_file_exists(dir, "memory.swap.current")) return {};
    uint64_t swap = 0, swap_max = kUnlimited;
    TRY(read_counter(dir, "memory.swap.current", swap));
    TRY(read_limit(dir, "memory.swap.max", kUnlimited, swap_max));
    memory.swap_usage = saturating_add(swap, memory.usage);
    memory.swap_limit = swap_max == kUnlimited ? kUnlimited : saturating_add(swap_max, memory.limit);
    return {};
}

ErrorOr<void> read_v2_memory(const std::string& dir, Stats& stats) {
    Stats::Memory& memory = stats.memory;
    TRY(read_counter(dir, "memory.current", memory.usage));
    TRY(read_counter(dir, "memory.peak", memory.max_usage));  // Linux 5.19
    TRY(read_limit(dir, "memory.max", kUnlimited, memory.limit));
    TRY(read_v2_swap(dir, memory));
    memory.raw = TRY(read_flat(dir, "memory.stat"));
    // memory.events counts this cgroup and those below it (memory.events.local: this one alone).
    // "max": how often usage hit memory.max, which is what v1's failcnt counts.
    Counters events = TRY(read_flat(dir, "memory.events"));
    memory.failcnt = value_of(events, "max");
    stats.oom_kills = value_of(events, "oom_kill");
    return {};
}

}  // namespace

ErrorOr<Stats> read_v2_stats(const std::string& dir) {
    Stats stats;
    TRY(read_v2_cpu(dir, stats.cpu));
    TRY(read_v2_memory(dir, stats));
    TRY(read_counter(dir, "pids.current", stats.pids.current));
    TRY(read_limit(dir, "pids.max", 0, stats.pids.limit));
    TRY(read_hugetlb(dir, "current", stats.hugetlb_usage));
    return stats;
}

}  // namespace hutch::cgroups
