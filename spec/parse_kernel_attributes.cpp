// The runtime-spec 1.2 fields that set a kernel attribute of the process: process.scheduler,
// process.ioPriority, process.execCPUAffinity, linux.personality and linux.memoryPolicy. Each name becomes
// the kernel's value here, and each rule the kernel or runc would apply later is checked here, so that bad
// input fails `create` with the field's name rather than the container's start with an errno.
#include <sched.h>
#include <sys/personality.h>

#include <array>
#include <charconv>
#include <utility>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

using json::Json;

template <typename T, size_t N>
using NameTable = std::array<std::pair<std::string_view, T>, N>;

template <typename T, size_t N>
ErrorOr<T> lookup(const NameTable<T, N>& table, const std::string& name, const std::string& path) {
    for (const auto& [known, value] : table)
        if (known == name) return value;
    return fail(path + ": unknown value \"" + name + "\"");
}

// The kernel's values (linux/sched.h); SCHED_ISO is named by the spec but Linux never had it.
constexpr uint32_t kSchedDeadline = 6;
constexpr NameTable<uint32_t, 6> kSchedPolicies{{{"SCHED_OTHER", SCHED_OTHER},
                                                 {"SCHED_FIFO", SCHED_FIFO},
                                                 {"SCHED_RR", SCHED_RR},
                                                 {"SCHED_BATCH", SCHED_BATCH},
                                                 {"SCHED_IDLE", SCHED_IDLE},
                                                 {"SCHED_DEADLINE", kSchedDeadline}}};
constexpr NameTable<uint64_t, 7> kSchedFlags{{{"SCHED_FLAG_RESET_ON_FORK", 0x01},
                                              {"SCHED_FLAG_RECLAIM", 0x02},
                                              {"SCHED_FLAG_DL_OVERRUN", 0x04},
                                              {"SCHED_FLAG_KEEP_POLICY", 0x08},
                                              {"SCHED_FLAG_KEEP_PARAMS", 0x10},
                                              {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
                                              {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}}};

// linux/ioprio.h
constexpr NameTable<int, 3> kIoClasses{
    {{"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}}};

constexpr NameTable<unsigned long, 2> kDomains{{{"LINUX", PER_LINUX}, {"LINUX32", PER_LINUX32}}};

// linux/mempolicy.h; MPOL_WEIGHTED_INTERLEAVE is Linux 6.9's, newer than Debian 12's headers.
constexpr int kMpolDefault = 0, kMpolPreferred = 1, kMpolLocal = 4;
constexpr NameTable<int, 7> kMemoryPolicyModes{{{"MPOL_DEFAULT", kMpolDefault},
                                                {"MPOL_PREFERRED", kMpolPreferred},
                                                {"MPOL_BIND", 2},
                                                {"MPOL_INTERLEAVE", 3},
                                                {"MPOL_LOCAL", kMpolLocal},
                                                {"MPOL_PREFERRED_MANY", 5},
                                                {"MPOL_WEIGHTED_INTERLEAVE", 6}}};
constexpr int kMpolStaticNodes = 1 << 15, kMpolRelativeNodes = 1 << 14;
constexpr NameTable<int, 3> kMemoryPolicyFlags{{{"MPOL_F_NUMA_BALANCING", 1 << 13},
                                                {"MPOL_F_RELATIVE_NODES", kMpolRelativeNodes},
                                                {"MPOL_F_STATIC_NODES", kMpolStaticNodes}}};
// Linux's largest NODES_SHIFT is 10; a cpu_set_t holds 1024 CPUs.
constexpr unsigned kMaxIndex = 1024;

template <typename T, size_t N>
ErrorOr<T> read_flags(const Json& object, const std::string& path, const NameTable<T, N>& table) {
    std::vector<std::string> names;
    TRY(json::read(object, path, "flags", names));
    T flags = 0;
    for (size_t i = 0; i < names.size(); ++i)
        flags |= TRY(lookup(table, names[i], json::index_path(json::field_path(path, "flags"), i)));
    return flags;
}

ErrorOr<void> check_scheduler(const Scheduler& s, const std::string& path) {
    bool realtime = s.policy == SCHED_FIFO || s.policy == SCHED_RR;
    if (s.nice < -20 || s.nice > 19) return fail(path + ".nice: must be between -20 and 19");
    if (realtime && (s.priority < 1 || s.priority > 99))
        return fail(path + ".priority: SCHED_FIFO and SCHED_RR need a priority between 1 and 99");
    if (!realtime && s.priority != 0)
        return fail(path + ".priority: only SCHED_FIFO and SCHED_RR take a priority");
    bool deadline = s.policy == kSchedDeadline;
    if (!deadline && (s.runtime || s.deadline || s.period))
        return fail(path + ": runtime, deadline and period are for SCHED_DEADLINE only");
    if (deadline && (s.runtime == 0 || s.runtime > s.deadline || (s.period && s.deadline > s.period)))
        return fail(path + ": SCHED_DEADLINE needs 0 < runtime <= deadline <= period");
    return {};
}

// "0-3,7": the nodes (or CPUs: `noun`) as a bit mask.
ErrorOr<std::vector<uint64_t>> parse_index_list(const std::string& list, const std::string& path,
                                                const std::string& noun = "node") {
    std::vector<uint64_t> mask;
    auto bad = [&] { return fail(path + ": \"" + list + "\" is not a " + noun + " list such as \"0-3,7\""); };
    const char* p = list.data();
    const char* end = p + list.size();
    while (p < end) {
        unsigned first = 0, last = 0;
        auto [after_first, e1] = std::from_chars(p, end, first);
        if (e1 != std::errc()) return bad();
        last = first;
        p = after_first;
        if (p < end && *p == '-') {
            auto [after_last, e2] = std::from_chars(p + 1, end, last);
            if (e2 != std::errc() || last < first) return bad();
            p = after_last;
        }
        if (last >= kMaxIndex)
            return fail(path + ": " + noun + " " + std::to_string(last) + " is beyond Linux's 1024");
        if (mask.size() <= last / 64) mask.resize(last / 64 + 1);
        for (unsigned n = first; n <= last; ++n) mask[n / 64] |= uint64_t{1} << (n % 64);
        if (p < end && *p++ != ',') return bad();
        if (p == end && list.back() == ',') return bad();
    }
    return mask;
}

}  // namespace

ErrorOr<std::optional<Scheduler>> parse_scheduler(const Json& process) {
    // Empty as absent: generators write "scheduler": {}.
    if (!json::is_set(process, "scheduler")) return std::nullopt;
    const Json* value = json::member(process, "scheduler");
    const std::string path = "process.scheduler";
    TRY(json::expect_object(*value, path));
    Scheduler s;
    std::string policy = TRY(json::require<std::string>(*value, path, "policy"));
    s.policy = TRY(lookup(kSchedPolicies, policy, path + ".policy"));
    TRY(json::read(*value, path, "nice", s.nice));
    TRY(json::read(*value, path, "priority", s.priority));
    s.flags = TRY(read_flags(*value, path, kSchedFlags));
    TRY(json::read(*value, path, "runtime", s.runtime));
    TRY(json::read(*value, path, "deadline", s.deadline));
    TRY(json::read(*value, path, "period", s.period));
    TRY(check_scheduler(s, path));
    return s;
}

ErrorOr<std::optional<IoPriority>> parse_io_priority(const Json& process) {
    // Empty as absent: generators write "ioPriority": {}.
    if (!json::is_set(process, "ioPriority")) return std::nullopt;
    const Json* value = json::member(process, "ioPriority");
    const std::string path = "process.ioPriority";
    TRY(json::expect_object(*value, path));
    IoPriority io;
    std::string io_class = TRY(json::require<std::string>(*value, path, "class"));
    io.io_class = TRY(lookup(kIoClasses, io_class, path + ".class"));
    TRY(json::read(*value, path, "priority", io.priority));
    if (io.priority < 0 || io.priority > 7) return fail(path + ".priority: must be between 0 and 7");
    return io;
}

ErrorOr<std::optional<Personality>> parse_personality(const Json& linux_value) {
    if (!json::is_set(linux_value, "personality")) return std::nullopt;
    const Json* value = json::member(linux_value, "personality");
    const std::string path = "linux.personality";
    TRY(json::expect_object(*value, path));
    std::string domain = TRY(json::require<std::string>(*value, path, "domain"));
    Personality personality{.domain = TRY(lookup(kDomains, domain, path + ".domain"))};
    // The spec defines no flag yet.
    TRY(json::refuse_if_set(*value, path, "flags"));
    return personality;
}

ErrorOr<std::optional<MemoryPolicy>> parse_memory_policy(const Json& linux_value) {
    if (!json::is_set(linux_value, "memoryPolicy")) return std::nullopt;
    const Json* value = json::member(linux_value, "memoryPolicy");
    const std::string path = "linux.memoryPolicy";
    TRY(json::expect_object(*value, path));
    std::string mode_name = TRY(json::require<std::string>(*value, path, "mode"));
    int mode = TRY(lookup(kMemoryPolicyModes, mode_name, path + ".mode"));
    int flags = TRY(read_flags(*value, path, kMemoryPolicyFlags));
    if ((flags & kMpolStaticNodes) && (flags & kMpolRelativeNodes))
        return fail(path + ".flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    std::string nodes;
    TRY(json::read(*value, path, "nodes", nodes));
    MemoryPolicy policy{.mode = mode | flags, .nodes = TRY(parse_index_list(nodes, path + ".nodes"))};
    bool takes_nodes = mode != kMpolDefault && mode != kMpolLocal;
    if (!takes_nodes && !policy.nodes.empty()) return fail(path + ".nodes: " + mode_name + " takes no nodes");
    if (takes_nodes && mode != kMpolPreferred && policy.nodes.empty())
        return fail(path + ".nodes: " + mode_name + " needs at least one node");
    return policy;
}

ErrorOr<std::optional<ExecCpuAffinity>> parse_exec_cpu_affinity(const Json& process) {
    if (!json::is_set(process, "execCPUAffinity")) return std::nullopt;
    const Json* value = json::member(process, "execCPUAffinity");
    const std::string path = "process.execCPUAffinity";
    TRY(json::expect_object(*value, path));
    std::string initial, final_cpus;
    TRY(json::read(*value, path, "initial", initial));
    TRY(json::read(*value, path, "final", final_cpus));
    return ExecCpuAffinity{.initial = TRY(parse_index_list(initial, path + ".initial", "CPU")),
                           .final_cpus = TRY(parse_index_list(final_cpus, path + ".final", "CPU"))};
}

}  // namespace hutch::spec::detail
