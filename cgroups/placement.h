// Where a container's cgroup goes in each hierarchy: cgroupsPath checked and resolved.
// Internal to cgroups/.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroups/hierarchies.h"

namespace hutch::cgroups {

// The container's directory in one hierarchy, with the controllers that hierarchy carries.
struct Placement {
    std::vector<std::string> controllers;
    std::string dir;
    std::string mountpoint{};  // the hierarchy's; empty in a manager reopened from saved paths
};

// Refuses what the cgroupfs driver cannot take: ".." components (they would escape the
// hierarchy or the caller's cgroup), systemd's "slice:prefix:name" form, control characters.
ErrorOr<void> validate_cgroups_path(std::string_view cgroups_path);

// An absolute cgroupsPath lies under each hierarchy's mountpoint; a relative one (the container
// id when empty) under the cgroup this process is in, per own (parse_proc_cgroup()'s map).
ErrorOr<std::vector<Placement>> resolve_placements(const std::vector<Hierarchy>& hierarchies,
                                                   const std::map<std::string, std::string>& own,
                                                   std::string_view cgroups_path,
                                                   std::string_view container_id);

// The placement whose hierarchy carries controller, or nullptr when it is not mounted.
const Placement* find_placement(const std::vector<Placement>& placements, std::string_view controller);

}  // namespace hutch::cgroups
