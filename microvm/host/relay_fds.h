// The descriptors beyond stdio that hutch-vm-relay (cli/hutch_vm_relay.cpp) is started with by
// hutch-oci's microVM backend (runtime/microvm_backend.cpp): one number, known to both.
#pragma once

namespace hutch::microvm::host {

// Where the relay says "ready", or the one line of why it is not.
inline constexpr int relay_ready_fd = 3;
// --events: the container's pidfd, so that the stream ends when the container does.
inline constexpr int relay_pidfd_fd = 4;

}  // namespace hutch::microvm::host
