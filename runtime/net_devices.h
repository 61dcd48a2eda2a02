// linux.netDevices for a container: moved into its network namespace before it is "created",
// recorded in its state, and moved back to the runtime's namespace by delete, as runc does.
#pragma once

#include <sys/types.h>

#include "base/error.h"
#include "base/fd.h"
#include "runtime/container.h"
#include "spec/spec.h"

namespace hutch::runtime {

// In the parent, once the child (pid, not yet reaped) has its network namespace: moves the
// interfaces in and saves the state that records them. Returns that namespace (none without
// interfaces to move), for the caller to hold if it outlives the process (Launched::netns).
ErrorOr<UniqueFd> move_net_devices_in(const spec::Spec& spec, Container& container, pid_t pid);

// Moves the recorded interfaces back while the container's network namespace is still there
// (before its process is killed, or held open: held_netns). Failures are warnings: delete goes on.
void move_net_devices_out(const ContainerState& state, int held_netns = -1);

}  // namespace hutch::runtime
