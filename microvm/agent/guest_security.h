// The process's user, capabilities, no_new_privs and seccomp filter, applied in the forked child
// before exec in the order a host container's are (runtime/security.h says why each goes where),
// with the same code (runtime/credentials.cpp, runtime/seccomp_load.cpp). Each step reports why it
// failed; the caller sends that to the host.
#pragma once

#include "base/error.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// While root: drops the bounding set, and loads the filter when no_new_privs is not asked for
// (without it, loading needs CAP_SYS_ADMIN, which the user switch may take away).
ErrorOr<void> restrict_while_root(const GuestSecurity& security);

// setgroups, setresgid and setresuid to the process's ids, keeping the permitted capabilities
// across the change for set_capabilities_and_filter.
ErrorOr<void> switch_to_user(const GuestConfig& config);

// The effective, permitted, inheritable and ambient sets; then no_new_privs and the filter, last
// before exec, so that the filter sees as few of the agent's own syscalls as possible.
ErrorOr<void> restrict_before_exec(const GuestSecurity& security);

}  // namespace hutch::microvm::agent
