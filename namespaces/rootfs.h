// The container's root filesystem: its mounts, its /dev, the switch into it, and the finishing
// touches (masked and read-only paths, a read-only root, sysctls).
//
// Every path that comes from config.json is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT
// | RESOLVE_NO_MAGICLINKS), created component by component relative to its parent's fd, and mounted
// onto with move_mount on the O_PATH fd that resolution returned: a symlink in the rootfs
// (rootfs/evil -> /etc) or a destination such as "/../../etc" can only ever land inside the rootfs,
// never on the host. A mount's flags and propagation are then set through its own handle, never by
// resolving the destination again (mounting.h).
//
// Call order, in the runtime's cloned child (single-threaded, in its own mount namespace, possibly
// root in a new user namespace), after it has joined its cgroups:
//   parent, before clone:  validate(spec)
//   1. prepare_rootfs(spec, rootfs_abs_path)     needs the host's /proc
//   2. enter_rootfs(rootfs_abs_path, no_pivot)
//      (1 and 2 without a mount namespace of its own: prepare_shared_rootfs, chroot_into; below)
//   3. finalize_rootfs(spec)                     needs the container's /proc for masked/readonly paths
//   4. apply_sysctls(spec.linux_->sysctl)        needs the container's /proc
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::rootfs {

// ---- The four steps (see the call order above) ----------------------------------------------

// Parent side, before clone: each mount's options are checked against its type, so that bad input
// fails early with a one-line error naming the field. The rest of config.json (propagation,
// devices, masked and read-only paths, sysctls) was checked by its parser, spec/, alone.
ErrorOr<void> validate(const spec::Spec& spec);

// One directory of the host's cgroup tree in the container's cgroup mount: `source` (the
// container's own cgroup directory, or a whole hierarchy) bound at `name` in a tmpfs at the mount
// point ("cpu,cpuacct", "unified": the v1 layout), or, when name is empty, bound at the mount point
// itself (cgroup v2).
struct CgroupBind {
    std::string name;
    std::string source;
};

// What the container's process learns when it joins its cgroups: what its cgroup mounts bind and,
// when the runtime could build them ahead (build_cgroup_mounts), the mounts themselves, detached,
// one per cgroup mount in config.json (type "cgroup" or "cgroup2"), in order: the process then
// only attaches them.
struct CgroupView {
    std::vector<CgroupBind> binds;
    std::vector<UniqueFd> built;
};

// The runtime's half: every cgroup mount of config.json, built while the container's process
// makes its other mounts. Empty when one of them cannot be: options the process applies itself,
// or, for the v1 layout, a kernel before 6.15 (no mounts under a detached one). The process then
// builds them.
std::vector<UniqueFd> build_cgroup_mounts(const spec::Spec& spec, const std::vector<CgroupBind>& binds);

// The step where the runtime waits for the cgroups its parent makes meanwhile, joins them, and
// returns the view above. prepare_rootfs() runs it exactly once: just before the first cgroup
// mount, or after the last mount if none is. Without it, a cgroup mount shows every host
// hierarchy whole.
using JoinCgroups = std::function<ErrorOr<CgroupView>()>;

// The runtime's half for bind mounts that the container's process cannot make alone, made before
// the clone by the host's root: an idmapped bind (only the host's root may map a mount, and the
// mapping's user namespace is made here), and, when the process will be in a user namespace,
// every bind, whose source its root may not reach (a 0700 directory of the host's root). Each is
// the source's detached clone (open_tree), idmapped, given the propagation the container's "/"
// gets; the process gives it its flags and attaches it. One entry per mount of config.json, in
// order, empty where the process makes the mount itself. joined_user: the fd of the user
// namespace the container joins, or -1.
ErrorOr<std::vector<UniqueFd>> build_binds_ahead(const spec::Spec& spec, bool user_namespace,
                                                 int joined_user);

// What the runtime brings to the mounts of config.json.
struct MountInputs {
    JoinCgroups join_cgroups;           // none: cgroup mounts show the host's hierarchies whole
    std::vector<UniqueFd> binds_ahead;  // what build_binds_ahead made
    // linux.mountLabel where SELinux is enabled, else "": the context of new filesystems.
    std::string mount_label;
};

// Before pivot_root: "/" made rslave (or linux.rootfsPropagation), the rootfs bound onto itself,
// every mount of config.json in order, then /dev (devices and symlinks) when config mounts /dev.
ErrorOr<void> prepare_rootfs(const spec::Spec& spec, const std::string& rootfs_abs_path,
                             MountInputs inputs = {});

// ---- A mount namespace the container does not own (shared_rootfs.cpp) ----
//
// Without "mount" in linux.namespaces the container shares the runtime's mount namespace (or,
// with a path, joins one): its mounts are made where other processes live. So nothing of what is
// there may change (no propagation of "/", no pivot_root, which would move the root of every
// process in the namespace, no detaching of other mounts), and what the container mounts must be
// found again and undone at delete, whatever happened in between. Its rootfs is a detached copy
// (open_tree) whose id is handed to `record` (the runtime saves it in the state) before it is
// attached: had anything died before, the copy would have gone with its last fd. Every other
// mount lies under it. Used in place of prepare_rootfs, enter_rootfs with chroot_into, and, at
// delete, unmount_rootfs.

// Joins the cgroups first (the runtime's messages come in order), then the rootfs and the mounts
// of config.json under it. Returns the rootfs mount's id.
using RecordRootfsMount = std::function<ErrorOr<void>(uint64_t mount_id)>;
ErrorOr<uint64_t> prepare_shared_rootfs(const spec::Spec& spec, const std::string& rootfs_abs_path,
                                        const RecordRootfsMount& record, MountInputs inputs);

// chroot into the rootfs mount, once it is checked to be the one prepare_shared_rootfs made.
ErrorOr<void> chroot_into(const std::string& rootfs_abs_path, uint64_t mount_id);

// Detaches the rootfs mount of that id, with all the container mounted under it, from the path
// (and, first, what the container mounted over its own "/"). Nothing to do when the mount there is
// not that one or a mount on it: it is gone already.
ErrorOr<void> unmount_rootfs(const std::string& rootfs_abs_path, uint64_t mount_id);

// The kernel's id of the mount fd lies on, as /proc/self/mountinfo's first field gives it.
ErrorOr<uint64_t> mount_id_of(int fd);

// pivot_root into the rootfs and detach the old root; with no_pivot, move the rootfs onto "/" and
// chroot into it instead (for ramfs roots, where pivot_root is impossible).
ErrorOr<void> enter_rootfs(const std::string& rootfs_abs_path, bool no_pivot);

// After the switch: linux.readonlyPaths, linux.maskedPaths, root.readonly, and the rootfs
// propagation applied again to the new "/".
ErrorOr<void> finalize_rootfs(const spec::Spec& spec);

// linux.sysctl, written under the container's /proc/sys ("net.ipv4.ip_forward" ->
// /proc/sys/net/ipv4/ip_forward, spec::sysctl_path). Which keys are allowed is spec/'s rule.
ErrorOr<void> apply_sysctls(const std::map<std::string, std::string>& sysctls);

// ---- Building blocks, public for unit tests ------------------------------------------------

// config.json's mount options, split into what the kernel wants.
struct MountOptions {
    unsigned long flags = 0;                 // MS_* to set, MS_BIND and MS_REC included
    unsigned long cleared = 0;               // MS_* an option turned off (rw, suid, atime, ...)
    std::vector<unsigned long> propagation;  // MS_SHARED|MS_REC, ...: applied in order after the mount
    uint64_t attr_set = 0;                   // recursive MOUNT_ATTR_* (rro, rnosuid, ...) for mount_setattr
    uint64_t attr_clr = 0;
    std::string data;        // everything else, comma-joined: "mode=755,size=65536k"
    bool tmpcopyup = false;  // copy the directory's content into the new tmpfs

    bool bind() const;
    bool recursive() const;
};

// Parses options in order (a later "rw" undoes an earlier "ro", as runc does). Fails on an empty
// option. idmap and ridmap are skipped: the config.json parser made them the mount's idmap fields.
ErrorOr<MountOptions> parse_mount_options(const std::vector<std::string>& options);

// linux.rootfsPropagation, one of the values the config.json parser accepts (shared, rshared,
// slave, rslave, private, rprivate, unbindable, runbindable), as MS_* flags; "" gives nullopt (the
// default, MS_SLAVE|MS_REC, is the caller's). Which values are allowed is the parser's rule: a
// value it would refuse has no flags here, which is an error.
ErrorOr<std::optional<unsigned long>> parse_rootfs_propagation(const std::string& value);

// The SELinux context a new filesystem of `type` is made with: mount_label (MountInputs'), except
// where the kernel labels the files itself (proc, sysfs, mqueue, cgroup) or the mount's own
// options name a context already, as runc does. "" for none.
std::string mount_context_for(std::string_view type, std::string_view data, const std::string& mount_label);
// mount(2)'s form: data with context="LABEL" appended, quoted since an MCS label has commas.
std::string with_context_option(const std::string& data, const std::string& context);

// True when this mount is a bind mount (type "bind" or option bind/rbind).
bool is_bind_mount(const spec::Mount& mount);

// What to create when the destination is missing.
enum class Create { nothing, directory, file };

// Resolves path inside root_fd (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and returns an O_PATH fd
// of it, creating missing components (directories, and the last one as `create` says) relative to
// their parent's fd. A symlink or ".." can only lead to somewhere inside root_fd.
ErrorOr<UniqueFd> open_in_root(int root_fd, std::string_view path, Create create);
// Opens a path inside root_fd with the given open flags, resolution confined the same way.
ErrorOr<UniqueFd> openat_in_root(int root_fd, std::string_view path, uint64_t open_flags);
// Lexically cleaned absolute form of a config path ("dev//pts/." -> "/dev/pts", "/../x" -> "/x"), for
// comparing paths only (is this /dev?); never for opening them, which open_in_root does.
std::string clean_path(std::string_view path);
// "/proc/self/fd/N": the name under which mount(2) acts on exactly the object fd refers to.
std::string fd_path(int fd);

// MS_* flags of the mount fd lies on (from fstatvfs), which a remount must keep: in a user
// namespace the kernel refuses to clear the locked ones (ro, nosuid, nodev, noexec, atime).
ErrorOr<unsigned long> mount_flags_of(int fd);

// One line of /proc/self/mountinfo, octal escapes (\040) undone.
struct MountInfo {
    uint64_t id = 0;
    uint64_t parent_id = 0;
    std::string root;  // the path inside the filesystem that is mounted ("/" for a whole fs)
    std::string mount_point;
    std::string fs_type;
    std::string source;
    std::string super_options;  // "rw,cpu" for a cgroup v1 hierarchy
    bool shared = false;
    bool unbindable = false;
};
ErrorOr<std::vector<MountInfo>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

// The /dev of the container, after its mounts: default devices and linux.devices (mknod, or a
// bind of the host's node where mknod is not allowed, as in a user namespace), and the usual
// symlinks. Called by prepare_rootfs when config mounts /dev.
ErrorOr<void> create_devices(int root_fd, const spec::Spec& spec);

}  // namespace hutch::rootfs
