// The Stats readers: a container's usage counters from its cgroup files, in the units and with
// the meanings runc's `events` reports (nanoseconds of CPU; swap as memory+swap, v1's memsw).
#include "cgroups/stats.h"

#include <dirent.h>
#include <unistd.h>

#include <limits>
#include <optional>

#include "base/file.h"
#include "cgroups/cgroup_files.h"
#include "cgroups/stat_files.h"

namespace hutch::cgroups {
namespace {

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kNsPerUs = 1000;

// dir/file's text, or nullopt when the host does not offer the file (the controller is not
// there, or the kernel is older).
ErrorOr<std::optional<std::string>> read_if_offered(const std::string& dir, const std::string& file) {
    auto text = read_file(dir + "/" + file);
    if (!text && text.error().code == ENOENT) return std::nullopt;
    if (!text) return std::unexpected(text.error().context("cgroups: stats"));
    return std::optional<std::string>(std::move(*text));
}

// Parses dir/file with parse (its errors then name the file); leaves out untouched when the
// file is not offered.
template <typename T, typename Parse>
ErrorOr<void> read_into(const std::string& dir, const std::string& file, T& out, Parse parse) {
    auto text = TRY(read_if_offered(dir, file));
    if (!text) return {};
    out = TRY_CTX(parse(*text), "cgroups: stats: " + dir + "/" + file);
    return {};
}

ErrorOr<void> read_counter(const std::string& dir, const std::string& file, uint64_t& out) {
    return read_into(dir, file, out, [](const std::string& text) { return parse_counter(text); });
}

// "max" is unlimited: `unlimited` stands for it.
ErrorOr<void> read_limit(const std::string& dir, const std::string& file, uint64_t unlimited, uint64_t& out) {
    return read_into(dir, file, out, [&](const std::string& text) { return parse_limit(text, unlimited); });
}

using Counters = std::map<std::string, uint64_t>;

// A flat-keyed file's pairs; none when the file is not offered.
ErrorOr<Counters> read_flat(const std::string& dir, const std::string& file) {
    Counters out;
    TRY(read_into(dir, file, out, [](const std::string& text) { return parse_flat_keyed(text); }));
    return out;
}

uint64_t value_of(const Counters& counters, const std::string& key) {
    auto it = counters.find(key);
    return it == counters.end() ? 0 : it->second;
}

// Every hugetlb.SIZE.SUFFIX file of dir: v1's usage_in_bytes, v2's current.
ErrorOr<void> read_hugetlb(const std::string& dir, std::string_view suffix,
                           std::map<std::string, uint64_t>& out) {
    std::vector<std::pair<std::string, std::string>> files;  // page size, file name
    if (DIR* stream = ::opendir(dir.c_str())) {
        while (dirent* entry = ::readdir(stream)) {
            std::string size = hugetlb_page_size(entry->d_name, suffix);
            if (!size.empty()) files.emplace_back(size, entry->d_name);
        }
        ::closedir(stream);
    }
    for (const auto& [size, file] : files) TRY(read_counter(dir, file, out[size]));
    return {};
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kUnlimited - b ? kUnlimited : a + b; }

// ---- v1 -------------------------------------------------------------------------------------

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

// ---- v2 -------------------------------------------------------------------------------------

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
