// process.capabilities in the parent: names become bit masks (runtime/credentials.cpp applies them
// in the child).
#include <sys/capability.h>

#include <algorithm>

#include "base/log.h"
#include "runtime/capability_bits.h"
#include "runtime/security.h"

namespace hutch::security {
namespace {

constexpr int kMaskBits = 64;  // CapabilityPlan's masks; kernels have 41 capabilities today

// The running kernel's highest capability, from libcap's probe of the bounding set at start-up.
int kernel_last_cap() { return std::min(static_cast<int>(cap_max_bits()) - 1, kMaskBits - 1); }

// libcap's number for a name the config.json parser accepted (spec::is_capability_name): the
// parser judged it, this only translates it.
ErrorOr<int> capability_number(const std::string& name, const std::string& field) {
    cap_value_t value = 0;
    if (cap_from_name(name.c_str(), &value) != 0)
        return fail(field + ": " + name + " has no number in libcap (not a config.json the parser read?)");
    return value;
}

ErrorOr<uint64_t> capability_mask(const std::vector<std::string>& names, const std::string& field,
                                  int last_cap) {
    uint64_t mask = 0;
    for (const auto& name : names) {
        int cap = TRY(capability_number(name, field));
        // Known to libcap but not to this kernel: runc skips these too, so that one config serves
        // kernels of different ages.
        if (cap > last_cap) {
            log::warn(field + ": " + name + " is not supported by the running kernel; ignored");
            continue;
        }
        mask |= cap_bit(cap);
    }
    return mask;
}

// Capabilities in `mask` but not in `within`, for error messages: "CAP_KILL, CAP_CHOWN".
std::string names_outside(uint64_t mask, uint64_t within, int last_cap) {
    std::string names;
    for (int cap = 0; cap <= last_cap; ++cap) {
        if ((mask & cap_bit(cap)) && !(within & cap_bit(cap)))
            names += (names.empty() ? "" : ", ") + cap_name(cap);
    }
    return names;
}

ErrorOr<uint64_t> process_set(cap_flag_t flag, int last_cap) {
    CapState state(cap_get_proc());
    if (!state) return fail_errno("reading the runtime's capabilities");
    uint64_t mask = 0;
    for (int cap = 0; cap <= last_cap; ++cap) {
        cap_flag_value_t value = CAP_CLEAR;
        if (cap_get_flag(state.get(), cap, flag, &value) == 0 && value == CAP_SET) mask |= cap_bit(cap);
    }
    return mask;
}

}  // namespace

std::vector<std::string> known_capability_names() {
    std::vector<std::string> names;
    for (int cap = 0; cap < kMaskBits; ++cap) {
        std::string name = cap_name(cap);
        if (spec::is_capability_name(name)) names.push_back(name);
    }
    return names;
}

ErrorOr<CapabilityPlan> prepare_capabilities(const std::optional<spec::Capabilities>& caps) {
    CapabilityPlan plan;
    plan.last_cap = kernel_last_cap();
    if (!caps) return plan;  // absent: the process gets no capability at all (runtime-spec, runc)
    const std::string field = "process.capabilities.";
    plan.bounding = TRY(capability_mask(caps->bounding, field + "bounding", plan.last_cap));
    plan.effective = TRY(capability_mask(caps->effective, field + "effective", plan.last_cap));
    plan.permitted = TRY(capability_mask(caps->permitted, field + "permitted", plan.last_cap));
    plan.inheritable = TRY(capability_mask(caps->inheritable, field + "inheritable", plan.last_cap));
    plan.ambient = TRY(capability_mask(caps->ambient, field + "ambient", plan.last_cap));
    // Effective within permitted, which capset() needs, is the parser's rule (spec/parse_process.cpp).
    // The kernel raises an ambient capability only if it is permitted and inheritable. runc's
    // own default config lists ambient ones that are not inheritable, and runc skips them: so do
    // we, so that configs written for runc run unchanged, and as quietly (a debug line only).
    if (auto skipped = names_outside(plan.ambient, plan.permitted & plan.inheritable, plan.last_cap);
        !skipped.empty()) {
        log::debug(field + "ambient: skipping " + skipped + ": not in both permitted and inheritable");
        plan.ambient &= plan.permitted & plan.inheritable;
    }
    return plan;
}

ErrorOr<void> check_capabilities_available(const CapabilityPlan& plan) {
    const uint64_t wanted = plan.effective | plan.permitted | plan.inheritable | plan.ambient;
    const uint64_t held = TRY(process_set(CAP_PERMITTED, plan.last_cap));
    if (auto missing = names_outside(wanted, held, plan.last_cap); !missing.empty())
        return fail("process.capabilities: " + missing + " not in the runtime's own permitted set");
    return {};
}

}  // namespace hutch::security
