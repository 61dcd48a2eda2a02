// process.capabilities and process.user: names become bit masks in the parent; the child drops
// the bounding set, switches user and sets the other four sets.
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>

#include "base/log.h"
#include "runtime/security.h"

namespace hutch::security {
namespace {

constexpr int kMaskBits = 64;  // CapabilityPlan's masks; kernels have 41 capabilities today

struct CapFree {
    void operator()(void* p) const { cap_free(p); }
};
using CapState = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

uint64_t bit(int cap) { return uint64_t{1} << cap; }

// "CAP_SYS_ADMIN" for cap 21; the number when libcap has no name for it.
std::string cap_name(int cap) {
    std::unique_ptr<char, CapFree> name(cap_to_name(cap));
    if (!name) return std::to_string(cap);
    std::string upper(name.get());
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
}

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
        mask |= bit(cap);
    }
    return mask;
}

// Capabilities in `mask` but not in `within`, for error messages: "CAP_KILL, CAP_CHOWN".
std::string names_outside(uint64_t mask, uint64_t within, int last_cap) {
    std::string names;
    for (int cap = 0; cap <= last_cap; ++cap) {
        if ((mask & bit(cap)) && !(within & bit(cap))) names += (names.empty() ? "" : ", ") + cap_name(cap);
    }
    return names;
}

ErrorOr<uint64_t> process_set(cap_flag_t flag, int last_cap) {
    CapState state(cap_get_proc());
    if (!state) return fail_errno("reading the runtime's capabilities");
    uint64_t mask = 0;
    for (int cap = 0; cap <= last_cap; ++cap) {
        cap_flag_value_t value = CAP_CLEAR;
        if (cap_get_flag(state.get(), cap, flag, &value) == 0 && value == CAP_SET) mask |= bit(cap);
    }
    return mask;
}

ErrorOr<void> set_flag(cap_t state, cap_flag_t flag, uint64_t mask, int last_cap) {
    for (int cap = 0; cap <= last_cap; ++cap) {
        if (!(mask & bit(cap))) continue;
        cap_value_t value = cap;
        if (cap_set_flag(state, flag, 1, &value, CAP_SET) != 0)
            return fail_errno("cap_set_flag " + cap_name(cap));
    }
    return {};
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

ErrorOr<void> drop_bounding_set(const CapabilityPlan& plan) {
    for (int cap = 0; cap <= plan.last_cap; ++cap) {
        // Skipping what is already gone lets a runtime without CAP_SETPCAP keep a smaller set.
        if (plan.bounding & bit(cap)) continue;
        // Dropped without asking first (a syscall saved per capability); only when the drop is
        // refused does it matter whether the capability was already gone.
        if (cap_drop_bound(cap) != 0 && cap_get_bound(cap) == 1)
            return fail_errno("process.capabilities.bounding: dropping " + cap_name(cap));
    }
    return {};
}

ErrorOr<void> apply_capabilities(const CapabilityPlan& plan) {
    CapState state(cap_init());
    if (!state) return fail_errno("process.capabilities: cap_init");
    TRY(set_flag(state.get(), CAP_EFFECTIVE, plan.effective, plan.last_cap));
    TRY(set_flag(state.get(), CAP_PERMITTED, plan.permitted, plan.last_cap));
    TRY(set_flag(state.get(), CAP_INHERITABLE, plan.inheritable, plan.last_cap));
    if (cap_set_proc(state.get()) != 0)
        return fail_errno("process.capabilities: setting the effective, permitted and inheritable sets");
    // The ambient set survives a uid change only partly; start from nothing so it is exactly the plan.
    // One prctl: libcap's cap_reset_ambient() first asks about each capability in turn (42 calls).
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return fail_errno("process.capabilities.ambient: clearing");
    for (int cap = 0; cap <= plan.last_cap; ++cap) {
        if ((plan.ambient & bit(cap)) && cap_set_ambient(cap, CAP_SET) != 0)
            return fail_errno("process.capabilities.ambient: raising " + cap_name(cap));
    }
    return {};
}

namespace {

// True when the real, effective and saved uids and gids all are the user's already.
bool has_ids(const spec::User& user) {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0) return false;
    return ruid == user.uid && euid == user.uid && suid == user.uid && rgid == user.gid && egid == user.gid &&
           sgid == user.gid;
}

}  // namespace

// Raw syscalls, not glibc's wrappers: glibc broadcasts set*id to every thread it believes exists,
// and a child made by clone() (not fork()) inherits the parent's idea of its threads. The child is
// single-threaded, so changing the calling thread is changing the process.
ErrorOr<void> switch_user(const spec::User& user) {
    const auto& groups = user.additional_gids;
    if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0) {
        // In a user namespace whose setgroups is "deny" (rootless), no list can be set; an empty
        // one asks for nothing that could be honoured, so going on is right.
        if (!(errno == EPERM && groups.empty())) return fail_errno("process.user.additionalGids: setgroups");
    }
    // Each call below makes and commits new credentials (6 us each here), even one that changes
    // nothing: a container that runs as the runtime's own ids (root, usually) skips them.
    if (!has_ids(user)) {
        // Keeps the capabilities across the change of uid; they are set from the config after.
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
            return fail_errno("process.user: prctl(PR_SET_KEEPCAPS)");
        if (syscall(SYS_setresgid, user.gid, user.gid, user.gid) != 0)
            return fail_errno("process.user.gid: setresgid(" + std::to_string(user.gid) + ")");
        if (syscall(SYS_setresuid, user.uid, user.uid, user.uid) != 0)
            return fail_errno("process.user.uid: setresuid(" + std::to_string(user.uid) + ")");
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
            return fail_errno("process.user: clearing PR_SET_KEEPCAPS");
    }
    umask(static_cast<mode_t>(user.umask.value_or(022)));  // runc and crun default to 0022
    return {};
}

}  // namespace hutch::security
