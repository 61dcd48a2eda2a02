// The systemd cgroup driver (runc's --systemd-cgroup), for pure cgroup v2 hosts where systemd is
// PID 1: the container's cgroup is a transient scope unit that systemd makes, moves the container's
// first process into and removes; podman, containerd and Kubernetes default to it. systemd is
// asked over D-Bus through the hutch-systemd helper (systemd_helper.h), for the limits it has
// properties for; the rest, and the device program, go through cgroupfs in the delegated scope,
// where every other operation acts too.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "base/error.h"
#include "cgroups/manager.h"

namespace hutch::cgroups {

// paths() keys of this driver, beside "hutch:layout" ("v2") and "" (the scope's directory).
inline constexpr const char* kDriverKey = "hutch:driver";  // "systemd"
inline constexpr const char* kUnitKey = "hutch:unit";      // "hutch-ID.scope"
inline constexpr const char* kSystemdDriver = "systemd";

// A manager for the scope that cgroupsPath ("slice:prefix:name", or empty: system.slice, prefix
// "hutch", the container id) names, resolved (systemd_path.h) but not started: its create() starts
// the scope with pid in it and waits for systemd's job, then writes what systemd did not; on a
// host that is not pure cgroup v2 it fails (after checking that systemd can be reached at all). Its
// clone_target() is -1 and it has no join files: pid must already be running (cloned before).
ErrorOr<std::unique_ptr<Manager>> make_systemd_manager(const std::string& cgroups_path,
                                                       const std::string& container_id, pid_t pid);

// Whether paths() were saved by this driver ("hutch:driver" is "systemd").
bool is_systemd_paths(const std::map<std::string, std::string>& paths);

// Reopens the manager from the paths() saved in a container's state, for manager_from_paths().
std::unique_ptr<Manager> reopen_systemd_manager(const std::map<std::string, std::string>& paths);

}  // namespace hutch::cgroups
