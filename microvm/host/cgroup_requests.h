// Requests about a running microVM container's cgroup in the guest, made over the container's exec
// socket (exec_socket.h) as protocol.h's update and stats frames: hutch-oci update's new limits
// (hutch-vm-relay --update), hutch-oci events' counters (--events) and ps's pids (--ps).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "cgroups/manager.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

// Returns once the agent wrote them; an error says why it did not ("in the VM: memory limit:
// write ...").
ErrorOr<void> update_vm_limits(const std::string& state_dir, const GuestLimits& limits);

// The counters of the container's cgroup, as the agent read them.
ErrorOr<cgroups::Stats> read_vm_stats(const std::string& state_dir);

// The pids of the container's processes, as its pid namespace in the guest numbers them.
ErrorOr<std::vector<pid_t>> list_vm_processes(const std::string& state_dir);

}  // namespace hutch::microvm::host
