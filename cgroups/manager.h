// One interface for placing a container in cgroups and limiting it, whatever the host's layout.
// The cgroupfs v1 driver (v1 and the hybrid layout) implements it today; cgroup v2 and the systemd
// driver will implement the same interface.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::cgroups {

// One v1 hierarchy as a container sees it: bind `dir` where the host has `mountpoint`.
struct HierarchyBind {
    std::string mountpoint;  // "/sys/fs/cgroup/cpu,cpuacct"
    std::string dir;         // "/sys/fs/cgroup/cpu,cpuacct/user.slice/ID"
};

class Manager {
public:
    virtual ~Manager() = default;

    // Creates the container's cgroups (and any missing parents) and writes every limit in
    // resources. Refuses, with an error naming the field, a limit this host cannot give; on
    // failure, removes what it created.
    virtual ErrorOr<void> create(const spec::Resources* resources) = 0;

    // Opens the files the container's first process writes "0" into to move itself (the
    // runtime passes them over its sync channel): a single-threaded process moving itself skips the RCU grace
    // period that a move by another process costs (ENVIRONMENT.md, "The start path").
    virtual ErrorOr<std::vector<UniqueFd>> open_self_join_files() = 0;

    // Every process in the container's cgroups.
    virtual ErrorOr<std::vector<pid_t>> pids() const = 0;

    // Sends sig to every process in the cgroups, frozen first so that nothing forks meanwhile.
    virtual ErrorOr<void> signal_all(int sig) = 0;

    // Kills whatever is left inside and removes the cgroups this manager created. Idempotent:
    // cgroups already gone are not an error.
    virtual ErrorOr<void> destroy() = 0;

    // Controller (or "name=systemd") -> absolute directory, kept in the container's state so
    // that later commands can reopen the manager with from_paths().
    virtual std::map<std::string, std::string> paths() const = 0;

    // What the container's own cgroup mount shows: for each hierarchy, where the host mounts it
    // and the container's directory in it. Empty for a manager reopened with from_paths().
    virtual std::vector<HierarchyBind> hierarchy_binds() const = 0;
};

// Picks the driver for this host and resolves cgroupsPath: an absolute path is taken from each
// hierarchy's root; a relative one (or, when empty, the container id) nests under the cgroup
// that the calling process is in.
ErrorOr<std::unique_ptr<Manager>> make_manager(const std::string& cgroups_path,
                                               const std::string& container_id);

// resources (or none) with an allow rule (rwm) appended for each of config.json's linux.devices, as
// runc does, so that the device nodes a container is given can be opened in it: pass the result to
// create(). Device-cgroup types: "u" is a character device; "p" (a FIFO) is not governed.
spec::Resources resources_allowing_devices(const spec::Resources* resources,
                                           const std::vector<spec::Device>& devices);

// Reopens a manager from the paths() saved in a container's state. Besides controller names the
// map holds the key "hutch:created": the directories the manager made, newline-separated, the only
// ones destroy() removes. Keep the whole map.
std::unique_ptr<Manager> manager_from_paths(const std::map<std::string, std::string>& paths);

}  // namespace hutch::cgroups
