// The container's process in the guest: started with the config's settings, its stdio relayed
// over the virtio-serial ports, the host's signals forwarded to it, its exit status reported;
// and, while it runs, the execs the host asks for (guest_execs.h) and its updates of the limits.
#pragma once

#include "base/error.h"
#include "microvm/agent/guest_cgroup.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// Runs config's process in the current root and relays until it exits: its stdout and stderr go
// to control as frames, stdin_port's bytes to its stdin, signal frames read from control (reader
// holds what was read past the config) to it. The process joins cgroup and makes config's
// namespaces (guest_namespaces.h) before its exec; the execs join both. Returns its exit status
// (128+N for signal N).
ErrorOr<int> run_process(const GuestConfig& config, const ContainerCgroup& cgroup, int control_fd,
                         int stdin_port_fd, FrameReader& reader);

}  // namespace hutch::microvm::agent
