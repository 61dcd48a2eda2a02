// The drivers behind Manager, for make_manager() and manager_from_paths(). Internal to cgroups/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cgroups/manager.h"
#include "cgroups/placement.h"

namespace hutch::cgroups {

// The paths() keys that are not controllers.
inline constexpr const char* kLayoutKey = "hutch:layout";
inline constexpr const char* kCreatedKey = "hutch:created";
// The paths() key of the cgroup v2 directory (the unified hierarchy's, on a hybrid host).
inline constexpr const char* kUnifiedKey = "";

// cgroupfs v1: a directory per hierarchy. created: the directories this manager made, parents
// first (empty for a new manager: create() fills it).
std::unique_ptr<Manager> make_v1_manager(std::vector<Placement> placements, std::vector<std::string> created);

// cgroupfs v2: one directory. With only_unified, the manager is the unified half of a hybrid host:
// its cgroup has no controllers but those the host bound to v2 (hugetlb, say), so it writes
// hugepageLimits and unified keys and leaves every other field to the v1 half.
std::unique_ptr<Manager> make_v2_manager(std::string dir, std::vector<std::string> created,
                                         bool only_unified = false);

// A hybrid host with the container placed in both halves.
std::unique_ptr<Manager> make_hybrid_manager(std::unique_ptr<Manager> v1, std::unique_ptr<Manager> unified);

// The cgroup v2 directory for cgroupsPath (the container id when empty) under the cgroup2 mount at
// mountpoint. An absolute path starts at the mountpoint; a relative one nests under the parent
// of this process's own cgroup (own: parse_proc_cgroup()'s map, whose "" key is the v2 line), as
// runc does: the caller's own cgroup usually has processes (a login scope, a service), and the
// kernel then refuses to hand its controllers to a child ("no internal processes").
ErrorOr<std::string> resolve_v2_dir(const std::string& mountpoint,
                                    const std::map<std::string, std::string>& own,
                                    std::string_view cgroups_path, std::string_view container_id);

// On a hybrid host: whether resources need the unified hierarchy.
bool needs_unified_hierarchy(const spec::Resources& resources);

// "a\nb\n" -> {"a", "b"}; and back, for "hutch:created".
std::vector<std::string> split_lines(const std::string& text);
std::string join_lines(const std::vector<std::string>& lines);
// "cpu io memory\n" -> {"cpu", "io", "memory"}: cgroup.controllers, cgroup.subtree_control.
std::vector<std::string> split_words(const std::string& text);

// Removes the cgroups a manager made (created: parents first), deepest first, each with whatever
// the container made below it. Keeps going past a failure and returns the first.
ErrorOr<void> remove_cgroup_trees(const std::vector<std::string>& created);

// destroy() of a cgroupfs manager: usually the cgroups are empty by now (the container's pid
// namespace ended with its init), so first one rmdir per directory made; only if one fails is
// there anything to kill (when owns_leaf: the container's own cgroup is among them; a manager that
// made none must not kill what belongs to someone else) and to wait for. Clears created.
ErrorOr<void> destroy_created(Manager& manager, std::vector<std::string>& created, bool owns_leaf);

// Every pid in cgroup.procs of dir and of the cgroups below it, sorted, without duplicates.
ErrorOr<std::vector<pid_t>> read_pids_tree(const std::string& dir);

// kill(sig) to each pid; one already gone is not an error.
ErrorOr<void> kill_each(const std::vector<pid_t>& pids, int sig);

}  // namespace hutch::cgroups
