// process.rlimits: names become resources in the parent; the limits are set with prlimit. Which
// rlimits config.json may ask for is checked by its parser (spec/), not here.
#include <sys/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>

#include "runtime/security.h"

namespace hutch::security {
namespace {

struct Resource {
    std::string_view name;
    int resource;
};

constexpr std::array kResources{
    Resource{"RLIMIT_AS", RLIMIT_AS},
    Resource{"RLIMIT_CORE", RLIMIT_CORE},
    Resource{"RLIMIT_CPU", RLIMIT_CPU},
    Resource{"RLIMIT_DATA", RLIMIT_DATA},
    Resource{"RLIMIT_FSIZE", RLIMIT_FSIZE},
    Resource{"RLIMIT_LOCKS", RLIMIT_LOCKS},
    Resource{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    Resource{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    Resource{"RLIMIT_NICE", RLIMIT_NICE},
    Resource{"RLIMIT_NOFILE", RLIMIT_NOFILE},
    Resource{"RLIMIT_NPROC", RLIMIT_NPROC},
    Resource{"RLIMIT_RSS", RLIMIT_RSS},
    Resource{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    Resource{"RLIMIT_RTTIME", RLIMIT_RTTIME},
    Resource{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    Resource{"RLIMIT_STACK", RLIMIT_STACK},
};

std::string limit_text(rlim_t value) { return value == RLIM_INFINITY ? "unlimited" : std::to_string(value); }

std::string above_host_message(const RlimitEntry& entry, rlim_t host_hard) {
    return "process.rlimits: " + entry.name + ": hard limit " + limit_text(entry.limit.rlim_max) +
           " is above the host's hard limit " + limit_text(host_hard);
}

// Raising a hard limit needs CAP_SYS_RESOURCE in the host's user namespace.
bool can_raise_hard_limits() {
    cap_flag_value_t value = CAP_CLEAR;
    cap_t state = cap_get_proc();
    if (!state) return false;
    bool ok = cap_get_flag(state, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &value) == 0 && value == CAP_SET;
    cap_free(state);
    return ok;
}

}  // namespace

// Names, soft within hard and each resource once are the parser's rules (spec/parse_process.cpp):
// here names only become resources.
ErrorOr<RlimitPlan> prepare_rlimits(const std::vector<spec::Rlimit>& rlimits) {
    RlimitPlan plan;
    for (size_t i = 0; i < rlimits.size(); ++i) {
        const spec::Rlimit& rlimit = rlimits[i];
        auto found = std::ranges::find(kResources, rlimit.type, &Resource::name);
        if (found == kResources.end())
            return fail("process.rlimits[" + std::to_string(i) + "].type: " + rlimit.type +
                        " has no resource number here (not a config.json the parser read?)");
        plan.entries.push_back(
            RlimitEntry{found->resource, rlimit.type, {.rlim_cur = rlimit.soft, .rlim_max = rlimit.hard}});
    }
    return plan;
}

ErrorOr<void> check_rlimits_allowed(const RlimitPlan& plan) {
    if (can_raise_hard_limits()) return {};
    for (const auto& entry : plan.entries) {
        struct rlimit host {};
        if (getrlimit(entry.resource, &host) != 0)
            return fail_errno("process.rlimits: getrlimit " + entry.name);
        if (entry.limit.rlim_max > host.rlim_max) return fail(above_host_message(entry, host.rlim_max));
    }
    return {};
}

ErrorOr<void> apply_rlimits(const RlimitPlan& plan, pid_t pid) {
    for (const auto& entry : plan.entries) {
        if (prlimit(pid, static_cast<__rlimit_resource>(entry.resource), &entry.limit, nullptr) == 0)
            continue;
        const int err = errno;
        struct rlimit current {};
        if (err == EPERM &&
            prlimit(pid, static_cast<__rlimit_resource>(entry.resource), nullptr, &current) == 0 &&
            entry.limit.rlim_max > current.rlim_max)
            return fail(above_host_message(entry, current.rlim_max));
        return fail_errno("process.rlimits: " + entry.name + ": setting soft " +
                              limit_text(entry.limit.rlim_cur) + ", hard " + limit_text(entry.limit.rlim_max),
                          err);
    }
    return {};
}

}  // namespace hutch::security
