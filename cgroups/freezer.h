// Freezing a container's cgroup: pause and resume, and a still moment for signalling every process.
// Internal to cgroups/.
#pragma once

#include <string>

#include "base/error.h"

namespace hutch::cgroups {

// v1: the freezer hierarchy's directory. freezer.state may read FREEZING for a while (a task in an
// uninterruptible sleep): the write is repeated, as runc does, for up to about two seconds, and
// the cgroup is thawed again if it never freezes.
ErrorOr<void> freeze_v1(const std::string& dir);
ErrorOr<void> thaw_v1(const std::string& dir);
ErrorOr<bool> is_frozen_v1(const std::string& dir);

// v2: cgroup.freeze, then "frozen 1" awaited in cgroup.events (the kernel reports it once every
// task has stopped), with the same deadline.
ErrorOr<void> freeze_v2(const std::string& dir);
ErrorOr<void> thaw_v2(const std::string& dir);
ErrorOr<bool> is_frozen_v2(const std::string& dir);

}  // namespace hutch::cgroups
