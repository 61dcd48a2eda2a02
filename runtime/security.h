// The container process's security settings: seccomp filter, capabilities, user switch, rlimits.
//
// Each setting is split in two. The parent (before clone) calls build()/prepare_*(), which turn
// names into numbers and check what depends on the host (the runtime's own capabilities and
// limits, this libseccomp); config.json itself was checked by its parser (spec/), which is where
// a bad value gives its one-line error. The cloned child only applies the prepared plan: the
// apply functions never throw and report failure as ErrorOr, to be sent over the sync channel.
//
// Call order in the child (why, in brackets):
//   1. apply_rlimits             [raising a hard limit needs CAP_SYS_RESOURCE in the host's user
//                                 namespace, so before any capability is dropped; with a new user
//                                 namespace the parent does it instead: see apply_rlimits]
//   2. drop_bounding_set         [PR_CAPBSET_DROP needs CAP_SETPCAP: while still root]
//   3. without noNewPrivileges: SeccompFilter::load
//                                [loading without no_new_privs needs CAP_SYS_ADMIN]
//   4. switch_user               [setgroups/setresgid need CAP_SETGID, setresuid CAP_SETUID;
//                                 PR_SET_KEEPCAPS keeps the permitted set across the uid change]
//   5. apply_capabilities        [after the uid change, which cleared the effective set]
//   6. with noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS), then SeccompFilter::load, last before
//      execve, so the filter sees as few of the runtime's own syscalls as possible
//   7. execve
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::security {

// ---- Seccomp -------------------------------------------------------------------------------

// A seccomp filter, fully built and validated in the parent: the BPF program libseccomp generated
// for the profile, after the -ENOSYS stub (below), and the flags to load it with. load() only
// hands it to the kernel, so the child allocates nothing and libseccomp's state stays in the parent.
class SeccompFilter {
public:
    // Translates a profile the config.json parser accepted. Fails only on what this libseccomp or
    // the running kernel cannot do, naming the field ("linux.seccomp.flags:
    // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by libseccomp 2.5.4"). Syscall names
    // this libseccomp does not know for the native architecture are skipped.
    static ErrorOr<SeccompFilter> build(const spec::Seccomp& seccomp);

    // seccomp(SECCOMP_SET_MODE_FILTER): installs the filter in the calling process (the child).
    // With notifies(), returns the filter's listener fd (close-on-exec; the kernel made it), which
    // the runtime hands to the listener at linux.seccomp.listenerPath; otherwise an empty fd.
    ErrorOr<UniqueFd> load() const;

    // Whether a rule's action is SCMP_ACT_NOTIFY.
    bool notifies() const { return notifies_; }
    // The SECCOMP_FILTER_FLAG_* load() passes.
    unsigned flags() const { return flags_; }

    // Number of rules added to the filter (after skipping unknown syscalls and default-action
    // rules, and after splitting same-argument conditions). For tests and debug logs.
    size_t rule_count() const { return rule_count_; }
    // The program load() installs: enosys_stub(), then libseccomp's. For tests.
    const std::vector<sock_filter>& program() const { return program_; }

private:
    SeccompFilter() = default;
    std::vector<sock_filter> program_;
    unsigned flags_ = 0;  // SECCOMP_FILTER_FLAG_*
    size_t rule_count_ = 0;
    bool notifies_ = false;
};

// seccomp(SECCOMP_SET_MODE_FILTER) of a built program (SeccompFilter::load's): with
// SECCOMP_FILTER_FLAG_NEW_LISTENER in flags, returns the listener fd, otherwise an empty fd.
ErrorOr<UniqueFd> load_seccomp_program(const std::vector<sock_filter>& program, unsigned flags);

// ---- Seccomp: ENOSYS for syscalls newer than the profile ------------------------------------
// A deny-by-default profile (Docker's, podman's) lists the syscalls it allows; a syscall newer than
// the profile would get the default errno (EPERM), and a libc that tries the new call first (glibc:
// clone3, faccessat2, statx...) takes EPERM as final instead of falling back to the old call, as it
// does on ENOSYS, which an older kernel would give. So, as runc and crun do, the filter starts with
// a stub that answers ENOSYS to any syscall numbered above the highest the profile names on that
// architecture, and to clone3 when the default is an errno and the profile does not name clone3
// (glibc's pthread_create and posix_spawn then fall back to clone).

// One architecture of the filter, as seccomp_data.arch and .nr give it.
struct SyscallCeiling {
    uint32_t audit_arch = 0;       // AUDIT_ARCH_*
    bool x32 = false;              // x86_64's x32 ABI: numbers with __X32_SYSCALL_BIT set
    uint32_t highest = 0;          // the highest number the profile names (x32: bit included)
    std::vector<uint32_t> enosys;  // numbers at or below `highest` that get ENOSYS all the same
};

// For each architecture of the filter (the native one first, then the profile's) on which the
// profile names a syscall this libseccomp knows: its ceiling. None when the default action lets an
// unknown syscall through anyway (SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_TRACE, whose tracer answers
// for itself) or already returns ENOSYS.
std::vector<SyscallCeiling> syscall_ceilings(const spec::Seccomp& seccomp);

// The classic BPF stub that goes before libseccomp's program: it loads the architecture and,
// for each ceiling's, the syscall number, returns SECCOMP_RET_ERRNO|ENOSYS above the ceiling or
// for the listed numbers, and otherwise falls through to the instruction after it (libseccomp's
// program, which loads what it needs itself). Empty for no ceilings.
std::vector<sock_filter> enosys_stub(const std::vector<SyscallCeiling>& ceilings);

// What the filter builder translates, for `features`: its actions, argument operators and
// architectures (this libseccomp's), and the filter flags that this libseccomp and the running
// kernel both support (libseccomp's API level says which).
struct SeccompFeatures {
    std::vector<std::string> actions, operators, architectures, supported_flags;
    std::string libseccomp_version;  // the library linked in: "2.5.4"
};
SeccompFeatures seccomp_features();

// ---- Capabilities --------------------------------------------------------------------------

// Capability sets as bit masks (bit N = capability number N), restricted to the capabilities the
// running kernel has.
struct CapabilityPlan {
    uint64_t bounding = 0;
    uint64_t effective = 0;
    uint64_t permitted = 0;
    uint64_t inheritable = 0;
    uint64_t ambient = 0;
    int last_cap = 0;  // the running kernel's highest capability number
};

// Maps names, as the config.json parser accepted them, to numbers; a name libcap knows but the
// running kernel lacks is skipped, as runc does. Absent capabilities mean none at all. Ambient
// capabilities that are not both permitted and inheritable are skipped too (the kernel would
// refuse them), as runc does.
ErrorOr<CapabilityPlan> prepare_capabilities(const std::optional<spec::Capabilities>& caps);

// For a container that keeps the host's user namespace: checks in the parent that the runtime
// itself holds every capability the plan asks for, since no process can gain one it lacks
// ("process.capabilities: CAP_SYS_RESOURCE is not in the runtime's bounding set"). In a new user
// namespace the child starts with every capability, so this check does not apply there.
ErrorOr<void> check_capabilities_available(const CapabilityPlan& plan);

// Every capability name that process.capabilities may hold: those libcap knows, whether or not the
// running kernel has them (prepare_capabilities skips those it lacks). For `features`.
std::vector<std::string> known_capability_names();

// Child, while root with CAP_SETPCAP: drops every capability not in plan.bounding.
ErrorOr<void> drop_bounding_set(const CapabilityPlan& plan);

// Child, after switch_user: sets effective/permitted/inheritable, then raises the ambient set
// (after clearing it).
ErrorOr<void> apply_capabilities(const CapabilityPlan& plan);

// ---- User ----------------------------------------------------------------------------------

// Child: PR_SET_KEEPCAPS, setgroups(additionalGids), setresgid, setresuid, umask (0022 when absent,
// as runc and crun do), then clears keepcaps again.
ErrorOr<void> switch_user(const spec::User& user);

// ---- Rlimits -------------------------------------------------------------------------------

struct RlimitEntry {
    int resource = 0;  // RLIMIT_NOFILE, ...
    std::string name;  // "RLIMIT_NOFILE", for error messages
    struct rlimit limit {};
};

struct RlimitPlan {
    std::vector<RlimitEntry> entries;
};

// Maps RLIMIT_* names, as the config.json parser accepted them (known, each once, soft within
// hard), to resources.
ErrorOr<RlimitPlan> prepare_rlimits(const std::vector<spec::Rlimit>& rlimits);

// Parent: refuses, before clone, a hard limit above the runtime's own when the runtime lacks
// CAP_SYS_RESOURCE to raise it (the child inherits both), with the same message apply_rlimits gives.
ErrorOr<void> check_rlimits_allowed(const RlimitPlan& plan);

// Sets each entry with prlimit on `pid` (0: the calling process). EPERM on a raised hard limit reads
// "process.rlimits: RLIMIT_NOFILE: hard limit 40000 is above the host's hard limit 20000".
// Without a new user namespace the child applies them to itself (pid 0) while it still holds the
// runtime's capabilities. In a new user namespace the child can never raise a hard limit (the
// kernel asks for CAP_SYS_RESOURCE in the host's namespace), so the parent applies them to the
// child's pid after clone, before releasing it, as runc does.
ErrorOr<void> apply_rlimits(const RlimitPlan& plan, pid_t pid = 0);

}  // namespace hutch::security
