// Which namespaces a container gets, and how: created by clone3(), or joined with setns().
#pragma once

#include <sched.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::namespaces {

// The CLONE_NEW* flag of a namespace type.
int clone_flag(spec::NamespaceType type);

// A namespace to join: its type and an fd opened on its path before clone().
struct JoinTarget {
    spec::NamespaceType type;
    UniqueFd fd;
};

// How the container's namespaces come to be. Built in the parent, where a bad path is a clean
// error; the child only calls setns() on fds that are already open.
struct Plan {
    int clone_flags = 0;            // new namespaces created by clone3()
    std::vector<JoinTarget> joins;  // joined by the child, user namespace first
    int unshare_flags = 0;          // new namespaces the child makes once it has joined the others:
                                    // a new network namespace, and all of them in a joined user one
    UniqueFd pid_join;              // a pid namespace is joined by the parent (pid_for_children)
    bool new_user = false;          // the parent writes uid_map/gid_map after clone
    bool new_cgroup = false;        // unshared by the child after it moved into its cgroups

    // The child ends up in a user namespace other than hutch's: a new one, or a joined one.
    bool other_user_namespace() const;
    // The child gets a mount namespace of its own; otherwise it shares hutch's or joins one.
    bool new_mount_namespace() const { return ((clone_flags | unshare_flags) & CLONE_NEWNS) != 0; }
};

ErrorOr<Plan> plan(const spec::Spec& spec);

// In the child: setns() into every namespace to join, then unshare what must come after.
ErrorOr<void> join_all(const Plan& plan);

// "0 1000 1\n..." for /proc/PID/uid_map.
std::string format_id_map(const std::vector<spec::IdMapping>& mappings);

// Parent: writes the child's uid_map and gid_map.
ErrorOr<void> write_id_maps(pid_t pid, const spec::Linux& linux_config);

// A user namespace with these mappings and no process left in it, for an idmapped mount
// (mount_setattr wants a namespace, not mappings): a helper is cloned into a new one, its maps are
// written from here, its /proc/PID/ns/user opened, then it is killed and reaped.
ErrorOr<UniqueFd> make_user_namespace(const std::vector<spec::IdMapping>& uids,
                                      const std::vector<spec::IdMapping>& gids);

}  // namespace hutch::namespaces
