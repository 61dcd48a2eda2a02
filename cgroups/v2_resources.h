// Writes linux.resources into a container's cgroup v2 directory, mapped as runc maps them.
// Internal to cgroups/.
#pragma once

#include <string>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::cgroups {

// Every field that resources sets, then its unified keys (which override, as in runc). A field
// whose controller is not enabled in the directory, a field cgroup v2 has no file for (swappiness,
// kernel memory, network classes, realtime CPU), and a value the kernel refuses each fail with one
// line naming the field. The device policy is not written here (device_program.h).
ErrorOr<void> apply_v2_limits(const std::string& dir, const spec::Resources& resources);

// What `update` writes to the cgroup dir: resources, with a new CPU period alone keeping the
// quota now in cpu.max (the file holds both; runc's update keeps the quota it recorded). Refused
// before anything is written: device rules (update does not change the device policy, as in
// runc), and with memory.checkBeforeUpdate, a memory limit below the usage now.
ErrorOr<spec::Resources> prepare_v2_update(const std::string& dir, const spec::Resources& resources);

}  // namespace hutch::cgroups
