// The container's cgroup in the guest: the config's limits (GuestLimits) in a cgroup of the
// process's own, as a host container's cgroup has them, so that the process sees and meets the
// same memory.max, cpu.max and pids.max inside the VM as outside; new ones at hutch-oci update, and
// its counters and processes for hutch-oci events and ps.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "cgroups/manager.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// Opened before the root changes, which hides the initramfs's /sys/fs/cgroup: the container's
// own is read-only, and these fds reach the writable one whatever the agent's root is.
struct ContainerCgroup {
    UniqueFd dir;    // the cgroup's directory
    UniqueFd procs;  // its cgroup.procs, open for writing (join_cgroup)

    // Writes the limits that are set (an update's), leaving the others as they are.
    ErrorOr<void> write_limits(const GuestLimits& limits) const;
    // Its usage counters, as a host's cgroup v2 gives them (cgroups/stats.h).
    ErrorOr<cgroups::Stats> read_stats() const;
    // The guest's pids of its processes (cgroup.procs).
    ErrorOr<std::vector<pid_t>> pids() const;

private:
    std::string path() const;
};

// Makes the cgroup (cgroup2 being mounted on /sys/fs/cgroup) and writes the limits that are set.
// The process joins by writing "0" to its cgroup.procs between fork and exec (join_cgroup), so
// that nothing it runs starts outside.
ErrorOr<ContainerCgroup> make_container_cgroup(const GuestLimits& limits);

// In the forked child: moves the calling process into the cgroup whose cgroup.procs is procs_fd.
bool join_cgroup(int procs_fd);

}  // namespace hutch::microvm::agent
