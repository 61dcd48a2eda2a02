// Requests about a running microVM container's cgroup in the guest, made over the container's exec
// socket (exec_socket.h) as protocol.h's update and stats frames: hutch-oci update's new limits
// (hutch-vm-relay --update) and hutch-oci events' counters (hutch-vm-relay --events).
#pragma once

#include <string>

#include "base/error.h"
#include "cgroups/manager.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

// Returns once the agent wrote them; an error says why it did not ("in the VM: memory limit:
// write ...").
ErrorOr<void> update_vm_limits(const std::string& state_dir, const GuestLimits& limits);

// The counters of the container's cgroup, as the agent read them.
ErrorOr<cgroups::Stats> read_vm_stats(const std::string& state_dir);

}  // namespace hutch::microvm::host
