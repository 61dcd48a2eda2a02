// One interface for placing a container in cgroups and limiting it, whatever the host's layout:
// cgroupfs v1 (one hierarchy per controller), the hybrid layout (v1 controllers plus a cgroup2
// mount at /sys/fs/cgroup/unified) and cgroup v2 alone (every controller in one hierarchy).
// The layout is detected at run time; the driver and the container's directories are recorded in
// its state (paths()), so that every later command acts on the same ones.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::cgroups {

enum class Layout { v1, hybrid, v2 };

// statfs of /sys/fs/cgroup: a cgroup2 filesystem there is v2; else a cgroup2 filesystem at
// /sys/fs/cgroup/unified is hybrid; else v1.
Layout detect_layout();
const char* layout_name(Layout layout);

// A directory shown in the container's own cgroup mount: bound at `name` under the mount point
// ("memory", "cpu,cpuacct", "unified"), or at the mount point itself when name is empty (v2).
struct MountBind {
    std::string name;
    std::string dir;
};

// Usage counters, as `events --stats` reports them. A counter the host does not offer stays 0.
struct Stats {
    struct Cpu {
        uint64_t total_ns = 0, user_ns = 0, kernel_ns = 0;
        std::vector<uint64_t> per_cpu_ns;  // v1 only
        uint64_t periods = 0, throttled_periods = 0, throttled_ns = 0;
    } cpu;
    struct Memory {
        uint64_t usage = 0, max_usage = 0, limit = 0, failcnt = 0;
        uint64_t swap_usage = 0, swap_limit = 0;
        std::map<std::string, uint64_t> raw;  // memory.stat
    } memory;
    struct Pids {
        uint64_t current = 0, limit = 0;  // limit 0: unlimited
    } pids;
    uint64_t oom_kills = 0;                         // processes the OOM killer took in the container's cgroup
    std::map<std::string, uint64_t> hugetlb_usage;  // page size ("2MB") -> bytes in use
};

class Manager {
public:
    virtual ~Manager() = default;

    // Creates the container's cgroups (and any missing parents) and writes every limit in
    // resources. Refuses, with an error naming the field, a limit this host cannot give; on
    // failure, removes what it created.
    virtual ErrorOr<void> create(const spec::Resources* resources) = 0;

    // After create(): the cgroup2 directory the container's first process is born into
    // (clone3's CLONE_INTO_CGROUP: no move, so no RCU grace period), or -1 when the layout has
    // none and the process joins through open_self_join_files(). The manager owns the fd.
    virtual int clone_target() const = 0;

    // For a process added to a running container (`exec`): the cgroup2 directory it is born into,
    // the container's own or its existing sub-cgroup `sub` (exec --cgroup), or an invalid fd
    // where the layout has none (v1: the process joins through open_self_join_files()).
    virtual ErrorOr<UniqueFd> open_exec_target(const std::string& sub) const;

    // Opens the files the container's first process writes "0" into to move itself (the
    // runtime passes them over its sync channel): a single-threaded process moving itself through
    // a v1 `tasks` file skips the RCU grace period that a move by another process costs.
    virtual ErrorOr<std::vector<UniqueFd>> open_self_join_files() = 0;

    // Moves pid into the container's cgroups from outside: the slow way (a grace period), for a
    // process that could not be cloned into them.
    virtual ErrorOr<void> add_process(pid_t pid) = 0;

    // Every process in the container's cgroups (and the cgroups below them).
    virtual ErrorOr<std::vector<pid_t>> pids() const = 0;

    // Sends sig to every process in the cgroups, frozen first so that nothing forks meanwhile.
    virtual ErrorOr<void> signal_all(int sig) = 0;

    // pause and resume: freeze() returns once every process is frozen.
    virtual ErrorOr<void> freeze() = 0;
    virtual ErrorOr<void> thaw() = 0;
    virtual ErrorOr<bool> is_frozen() const = 0;

    // Changes the limits of a live container (`update`): only the fields that resources sets.
    // The device policy is not changed by update, as in runc: resources.devices is refused.
    virtual ErrorOr<void> update(const spec::Resources& resources) = 0;

    virtual ErrorOr<Stats> stats() const = 0;

    // Kills whatever is left inside and removes the cgroups this manager created. Idempotent:
    // cgroups already gone are not an error.
    virtual ErrorOr<void> destroy() = 0;

    // What the container's state keeps, so that later commands reopen the manager with
    // manager_from_paths(): the layout ("hutch:layout"), each controller's directory (the v2
    // directory under the key ""), and "hutch:created", the directories this manager made,
    // newline-separated: the only ones destroy() removes. Keep the whole map.
    virtual std::map<std::string, std::string> paths() const = 0;

    // What the container's own cgroup mount shows. Empty for a manager reopened from paths().
    virtual std::vector<MountBind> mount_binds() const = 0;
};

// Whether the container's cgroups are made before its first process is cloned (it is then born
// in them; see clone_target()) rather than while it sets up its namespaces: on v2, and on a hybrid
// host when resources need the unified hierarchy.
bool creates_before_clone(Layout layout, const spec::Resources* resources);

// The driver for layout, with cgroupsPath resolved: an absolute path is taken from each
// hierarchy's root; a relative one (or, when empty, the container id) nests under the cgroup that
// the calling process is in (on v2, under its parent: a cgroup with processes cannot hand
// controllers to a child). On a hybrid host the container is also placed in the unified
// hierarchy when resources need it (hugepageLimits where hugetlb lives there, unified keys).
ErrorOr<std::unique_ptr<Manager>> make_manager(Layout layout, const std::string& cgroups_path,
                                               const std::string& container_id,
                                               const spec::Resources* resources);

// resources (or none) with an allow rule (rwm) appended for each of config.json's linux.devices, as
// runc does, so that the device nodes a container is given can be opened in it: pass the result to
// create(). Device-cgroup types: "u" is a character device; "p" (a FIFO) is not governed.
spec::Resources resources_allowing_devices(const spec::Resources* resources,
                                           const std::vector<spec::Device>& devices);

// Reopens a manager from the paths() saved in a container's state.
std::unique_ptr<Manager> manager_from_paths(const std::map<std::string, std::string>& paths);

// paths() as they will be once create() has made the container's own directories: saved before
// create(), so that a hutch-oci killed while it makes them leaves a state from which
// `delete --force` finds and removes them. The parents create() may also make are not named:
// they may be shared, and another container may be making them at the same moment.
std::map<std::string, std::string> paths_before_create(const Manager& manager);

}  // namespace hutch::cgroups
