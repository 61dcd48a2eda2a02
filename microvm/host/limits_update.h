// hutch-oci update of a microVM container (hutch-vm-relay --update): the new limits go to the
// agent over the container's exec socket (exec_socket.h), as an update frame (protocol.h), and
// the agent writes them into the container's cgroup in the guest.
#pragma once

#include <string>

#include "base/error.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

// Returns once the agent wrote them; an error says why it did not ("in the VM: memory limit:
// write ...").
ErrorOr<void> update_vm_limits(const std::string& state_dir, const GuestLimits& limits);

}  // namespace hutch::microvm::host
