#include "microvm/agent/guest_security.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>

#include "runtime/security.h"

namespace hutch::microvm::agent {
namespace {

// The host made the masks for its own kernel; the guest's may know fewer capabilities, and the
// ones beyond it cannot be dropped, set or raised here.
security::CapabilityPlan plan_for_this_kernel(const GuestCapabilities& caps) {
    return {.bounding = caps.bounding,
            .effective = caps.effective,
            .permitted = caps.permitted,
            .inheritable = caps.inheritable,
            .ambient = caps.ambient,
            .last_cap = std::min(static_cast<int>(cap_max_bits()) - 1, 63)};
}

ErrorOr<void> load_filter(const GuestSeccomp& seccomp) {
    TRY(security::load_seccomp_program(seccomp.program, seccomp.flags));
    return {};
}

}  // namespace

ErrorOr<void> restrict_while_root(const GuestSecurity& security) {
    if (security.capabilities) TRY(security::drop_bounding_set(plan_for_this_kernel(*security.capabilities)));
    if (security.seccomp && !security.no_new_privileges) TRY(load_filter(*security.seccomp));
    return {};
}

ErrorOr<void> switch_to_user(const GuestConfig& config) {
    spec::User user;
    user.uid = config.uid;
    user.gid = config.gid;
    user.additional_gids.assign(config.additional_gids.begin(), config.additional_gids.end());
    return security::switch_user(user);
}

ErrorOr<void> restrict_before_exec(const GuestSecurity& security) {
    if (security.capabilities)
        TRY(security::apply_capabilities(plan_for_this_kernel(*security.capabilities)));
    if (security.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail_errno("noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS)");
    if (security.seccomp && security.no_new_privileges) TRY(load_filter(*security.seccomp));
    return {};
}

}  // namespace hutch::microvm::agent
