// process.capabilities and process.user in the child: it drops the bounding set, switches user
// and sets the other four sets, from the plan the parent made (capabilities.cpp). The microVM's
// agent does the same in the guest, so this file needs nothing but libcap and the plan.
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "runtime/capability_bits.h"
#include "runtime/security.h"

namespace hutch::security {
namespace {

ErrorOr<void> set_flag(cap_t state, cap_flag_t flag, uint64_t mask, int last_cap) {
    for (int cap = 0; cap <= last_cap; ++cap) {
        if (!(mask & cap_bit(cap))) continue;
        cap_value_t value = cap;
        if (cap_set_flag(state, flag, 1, &value, CAP_SET) != 0)
            return fail_errno("cap_set_flag " + cap_name(cap));
    }
    return {};
}

}  // namespace

ErrorOr<void> drop_bounding_set(const CapabilityPlan& plan) {
    for (int cap = 0; cap <= plan.last_cap; ++cap) {
        // Skipping what is already gone lets a runtime without CAP_SETPCAP keep a smaller set.
        if (plan.bounding & cap_bit(cap)) continue;
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
        if ((plan.ambient & cap_bit(cap)) && cap_set_ambient(cap, CAP_SET) != 0)
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
