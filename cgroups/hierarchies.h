// Where the cgroup v1 hierarchies are mounted, and which cgroup this process is in for each.
// Internal to cgroups/: the parsers take text so that unit tests feed them without a kernel.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::cgroups {

// One mounted v1 hierarchy: its controllers ("cpu", "cpuacct", or "name=systemd" for the
// controller-less hierarchy that systemd tracks services in) and where it is mounted.
struct Hierarchy {
    std::vector<std::string> controllers;
    std::string mountpoint;
    std::string root = "/";  // the hierarchy's directory shown at the mountpoint (mountinfo field 4)
};

bool has_controller(const Hierarchy& hierarchy, std::string_view controller);

// The v1 hierarchies (filesystem type "cgroup") in /proc/self/mountinfo text, one per set of
// controllers: a hierarchy mounted twice (bind mounts) is listed once, preferring its root mount.
std::vector<Hierarchy> parse_v1_mountinfo(std::string_view mountinfo);

// /proc/self/cgroup text ("4:memory:/a/b", "9:name=systemd:/", "0::/") to a map from every
// controller name (and "name=systemd") to this process's cgroup path. The v2 line ("0::") is
// keyed "" .
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);

// The same, read from this process's /proc files.
ErrorOr<std::vector<Hierarchy>> host_v1_hierarchies();
ErrorOr<std::map<std::string, std::string>> own_cgroups();

// True on a host with cgroup v2 alone (a cgroup2 filesystem at /sys/fs/cgroup).
bool host_is_pure_v2();

}  // namespace hutch::cgroups
