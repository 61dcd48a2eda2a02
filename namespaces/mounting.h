// What namespaces/'s own files share to make the container's mounts. Not offered outside
// namespaces/: rootfs.h is what this part offers.
//
// Every mount is made on a handle (CVE-2021-30465): built detached (fsopen/fsmount, open_tree),
// given its flags through its fd (mount_setattr), then attached with move_mount onto the O_PATH fd
// that resolution pinned. After move_mount the same fd names the attached mount, so whatever is
// changed later (propagation, recursive flags) is changed on exactly that mount. A path is never
// resolved a second time to find a mount just made: a racing rename or symlink swap in a volume
// shared with the container could make the second resolution land on another mount.
#pragma once

#include <sys/mount.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "namespaces/rootfs.h"

namespace hutch::rootfs {

// ---- mount handles (mount_handles.cpp) ----

// Flags a bind remount may change; MS_BIND, MS_REC and MS_REMOUNT are how it is asked.
constexpr unsigned long kBindMechanics = MS_BIND | MS_REC | MS_REMOUNT;

// Attaches a detached mount (from open_tree or fsmount) on top of what target_fd names.
ErrorOr<void> attach(int mount, int target_fd);

// A detached copy of the mount at path (relative to dir_fd; "" with AT_EMPTY_PATH in flags for
// dir_fd itself), with its submounts when flags hold AT_RECURSIVE.
ErrorOr<UniqueFd> clone_tree(int dir_fd, const std::string& path, unsigned flags);

// What a bind remount (MS_REMOUNT | MS_BIND | flags) does, on the handle of one mount: the
// per-mount flags given are set, the others cleared, the access-time mode kept unless one is
// given. In a user namespace the kernel refuses to clear flags the mount was locked with (EPERM):
// it is then asked again, keeping the mount's own ones (an explicit access-time option wins).
ErrorOr<void> set_mount_flags(int mount, unsigned long flags);
// The same for a clone the host's root made ahead (binds_ahead.cpp): the kernel locked none of its
// flags for the container's user namespace, so the source's ro, nosuid, nodev, noexec and
// access-time flags are kept, as they would have been locked.
ErrorOr<void> set_mount_flags_keeping_source(int mount, unsigned long flags);

// mount_setattr's MOUNT_ATTR_* bits set and cleared on the mount, and on every mount under it when
// recursive.
ErrorOr<void> change_attrs(int mount, uint64_t set, uint64_t clear, bool recursive);

// Makes a detached mount idmapped with the mappings of the user namespace userns_fd (and every
// mount under it when recursive). Once per mount: the kernel refuses to map a mapped mount again.
ErrorOr<void> idmap_mount(int mount, int userns_fd, bool recursive);

// Sets the per-mount flags among `flags` (ro, nosuid, nodev, noexec) on the mount and every mount
// under it, clearing none.
ErrorOr<void> add_flags_recursively(int mount, unsigned long flags);

// One propagation change (MS_SHARED, MS_SLAVE | MS_REC, ...): recursive with MS_REC.
ErrorOr<void> set_propagation(int mount, unsigned long propagation);

// A new instance of filesystem `type`, in steps, because they fail for different reasons: the
// context (fsopen: refused with EPERM for sysfs in a user namespace without its network
// namespace), its parameters (fsconfig), then the detached mount (fsconfig create and fsmount).
ErrorOr<UniqueFd> open_filesystem(const std::string& type);
// "source", the superblock's flags among `flags` (ro, sync, dirsync, lazytime, mand) and `data`
// split as mount(2) splits it for most filesystems: "key=value" is a string, "word" a flag.
ErrorOr<void> set_parameters(int fs, const std::string& source, unsigned long flags, const std::string& data);
// One string parameter, as it is: no splitting at commas (an SELinux context may hold some).
ErrorOr<void> set_string_parameter(int fs, const std::string& key, const std::string& value);
// The per-mount flags among `flags` become the detached mount's attributes.
ErrorOr<UniqueFd> create_mount(int fs, unsigned long flags);
// The three steps at once, for filesystems whose parameters are known to be accepted.
ErrorOr<UniqueFd> new_filesystem(const std::string& type, const std::string& source, unsigned long flags,
                                 const std::string& data);

// ---- mounts.cpp ----

// The propagation of the container's "/" (linux.rootfsPropagation, rslave by default), as MS_*.
ErrorOr<unsigned long> rootfs_propagation(const spec::Spec& spec);

// Every mount of config.json in order, under root_fd (the rootfs mount), then /dev's devices when
// config mounts /dev. The cgroups are joined (inputs.join_cgroups, once) before the first cgroup
// mount or after the last mount; `cgroups` is what cgroup mounts show until then.
ErrorOr<void> make_mounts(const spec::Spec& spec, int root_fd, CgroupView cgroups, MountInputs inputs);

// ---- the tree copy of tmpcopyup (copy_tree.cpp) ----

// Copies the content of src_dir into dst_dir (both directory fds): files, directories, symlinks
// and nodes, with their modes and owners.
ErrorOr<void> copy_tree(int src_dir, int dst_dir);

// ---- cgroup mounts (cgroup_mounts.cpp) ----

bool is_cgroup_mount(const spec::Mount& m);

// The host's cgroup hierarchies, each shown whole (mounts: the host's mount table, read before
// the first container mount).
std::vector<CgroupBind> whole_host_hierarchies(const std::vector<MountInfo>& mounts,
                                               const std::string& rootfs);

// Mounts a cgroup mount of config.json on target_fd: `built` (the runtime's, attached whole) when
// there is one and this kernel takes it, else one made here. Returns the attached mount.
ErrorOr<UniqueFd> mount_cgroup(int target_fd, const MountOptions& opts, const std::vector<CgroupBind>& binds,
                               UniqueFd built);

}  // namespace hutch::rootfs
