// The host's requests about the container's cgroup in the guest (protocol.h's update, stats and
// processes frames: hutch-oci update, events and ps), answered from the created container on,
// before its process starts as while it runs.
#pragma once

#include <string>

#include "base/error.h"
#include "microvm/agent/guest_cgroup.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// The frames that answer request (is_cgroup_request): the answer as exec stdout, if any, and exec
// exit 0; or exec failure with the reason (a limit the kernel refuses). An error only for a frame
// that cannot be read.
ErrorOr<std::string> answer_cgroup_request(const ContainerCgroup& cgroup, const Frame& request);

}  // namespace hutch::microvm::agent
