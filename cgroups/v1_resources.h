// Writes linux.resources into a container's cgroup v1 directories. Internal to cgroups/.
#pragma once

#include <vector>

#include "base/error.h"
#include "cgroups/placement.h"
#include "spec/spec.h"

namespace hutch::cgroups {

// Writes every field of resources (which may be null: then only the device policy) to the
// directories in placements. A limit whose controller is not mounted, whose file this kernel
// lacks, or that the kernel rejects fails with one line naming the field and the file.
// The device policy (deny all, the config's rules, the default devices) is always written when a
// devices hierarchy is mounted, as runc does.
ErrorOr<void> apply_v1_resources(const std::vector<Placement>& placements, const spec::Resources* resources);

// The same without the device policy, for `update`: only the fields resources sets.
ErrorOr<void> apply_v1_limits(const std::vector<Placement>& placements, const spec::Resources& resources);

}  // namespace hutch::cgroups
