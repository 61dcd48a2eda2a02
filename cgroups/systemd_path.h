// Where a container lies under the systemd cgroup driver: linux.cgroupsPath in systemd's form
// "slice:prefix:name", resolved as runc resolves it, to a scope unit in a slice and the cgroup
// directory systemd gives that scope. Pure functions, internal to cgroups/ (unit-tested).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::cgroups {

struct SystemdPlace {
    std::string slice;  // "system.slice"
    std::string unit;   // "hutch-ID.scope"
    std::string dir;    // "/sys/fs/cgroup/system.slice/hutch-ID.scope"
};

// A slice's cgroup path, as systemd nests slices by the dashes in their names:
// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; the root slice "-.slice" -> "/". A name that
// is not "NAME.slice", has a character systemd refuses in a unit name, or an empty component
// ("a--b.slice", "-a.slice", "a-.slice") is an error.
ErrorOr<std::string> expand_slice(std::string_view slice);

// cgroupsPath "slice:prefix:name": an empty slice is "system.slice"; the unit is
// "prefix-name.scope" ("name.scope" without a prefix). An empty cgroupsPath is
// "system.slice:hutch:ID". A path not in that form, an empty name, a name ending in ".slice" (a
// slice of the container's own, which hutch does not make yet) or a unit name systemd would refuse
// are errors naming linux.cgroupsPath.
ErrorOr<SystemdPlace> resolve_systemd_path(std::string_view cgroups_path, std::string_view container_id);

}  // namespace hutch::cgroups
