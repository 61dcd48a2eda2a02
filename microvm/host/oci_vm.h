// A bundle's config.json as a microVM runs it (hutch-oci's run.oci.handler=microvm,
// cli/hutch_vm_relay.cpp): the process and its settings for the agent, the limits, and the
// mounts a VM can give. The mounts on /proc, /sys and /dev and beneath are the agent's own in the
// guest (proc, sysfs, devtmpfs, devpts, cgroup2, /dev/shm); a directory's bind mount becomes a volume; a
// file's bind mount is copied in, as it is at create (podman's /etc/hosts, /etc/resolv.conf,
// /run/.containerenv); any other mount is refused.
#pragma once

#include <vector>

#include "base/error.h"
#include "microvm/agent/protocol.h"
#include "microvm/host/vm_run.h"
#include "spec/spec.h"

namespace hutch::microvm::host {

// Bind mounts as a VM takes them: a directory is shared (a volume), a regular file copied in at
// create, up to 256 KiB for all of them (they pass in the agent's config); anything else refused.
class VmBinds {
public:
    ErrorOr<void> add(const std::string& source, const std::string& destination, bool readonly);
    std::vector<VmVolume> volumes;
    std::vector<GuestFile> files;

private:
    size_t copied_ = 0;
};

struct OciVm {
    GuestConfig process;  // files from the bind mounts
    std::vector<VmVolume> volumes;
};

// config.json's process (or an exec's process.json) as the agent starts it, with the container's
// seccomp filter: the process's settings, without the container's (root, mounts, limits).
ErrorOr<GuestConfig> guest_process(const spec::Process& process, const std::optional<spec::Seccomp>& seccomp);

// Relative bind sources are the bundle's: hutch-oci create runs this from the bundle directory.
ErrorOr<OciVm> oci_vm(const spec::Spec& spec);

// process.capabilities, noNewPrivileges and linux.seccomp as the agent applies them: the
// capabilities' numbers and the filter's BPF program, made here. A filter that notifies a
// listener (SCMP_ACT_NOTIFY) is refused: its syscalls would be the guest's, out of the host's reach.
ErrorOr<GuestSecurity> guest_security(const std::optional<spec::Capabilities>& capabilities,
                                      bool no_new_privileges, const std::optional<spec::Seccomp>& seccomp);

// process.rlimits as the agent sets them: the resources' numbers (the parser checked the names).
ErrorOr<std::vector<GuestRlimit>> guest_rlimits(const std::vector<spec::Rlimit>& rlimits);

}  // namespace hutch::microvm::host
