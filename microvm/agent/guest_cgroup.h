// The container's cgroup in the guest: the config's limits (GuestLimits) in a cgroup of the
// process's own, as a host container's cgroup has them, so that the process sees and meets the
// same memory.max, cpu.max and pids.max inside the VM as outside.
#pragma once

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// Makes the cgroup (cgroup2 being mounted on /sys/fs/cgroup) and writes the limits that are set.
// Returns its cgroup.procs, open for writing: the process joins by writing "0" to it between fork
// and exec (join_cgroup), so that nothing it runs starts outside. The fd outlives the change of
// root, which hides the initramfs's /sys/fs/cgroup.
ErrorOr<UniqueFd> make_container_cgroup(const GuestLimits& limits);

// In the forked child: moves the calling process into the cgroup whose cgroup.procs is procs_fd.
bool join_cgroup(int procs_fd);

}  // namespace hutch::microvm::agent
