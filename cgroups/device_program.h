// cgroup v2 has no devices.allow: device access is decided by a BPF_PROG_TYPE_CGROUP_DEVICE
// program attached to the cgroup. This compiles a DevicePolicy (device_rules.h) into one, loads it
// and attaches it. Internal to cgroups/.
#pragma once

#include <linux/bpf.h>

#include <vector>

#include "base/error.h"
#include "cgroups/device_rules.h"

namespace hutch::cgroups {

// The program: for each exception in order, "if the device and the access match, return the
// exception's verdict"; then the default. Public for unit tests, which check its shape.
std::vector<bpf_insn> compile_device_program(const DevicePolicy& policy);

// Loads the program for policy and attaches it to the cgroup directory cgroup_fd, beside any
// that its ancestors have (BPF_F_ALLOW_MULTI: every program on the path must allow an access).
ErrorOr<void> attach_device_program(int cgroup_fd, const DevicePolicy& policy);

}  // namespace hutch::cgroups
