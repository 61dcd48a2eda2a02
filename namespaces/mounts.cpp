// Step 1: the rootfs and the mounts of config.json, before pivot_root. Each destination is
// resolved (and created) inside the rootfs once; the mount is built detached, attached onto the
// O_PATH fd that resolution returned, and changed afterwards only through its own handle
// (mounting.h says why).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

const char* data_or_null(const std::string& data) { return data.empty() ? nullptr : data.c_str(); }

ErrorOr<void> sys_mount(const std::string& source, const std::string& target, const char* type,
                        unsigned long flags, const char* data, const std::string& what) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags, data) != 0)
        return fail_errno(what);
    return {};
}

// A mount over a file of procfs could hide or fake what the kernel tells the container
// (/proc/self/attr, /proc/sys/...): refused except for the files lxcfs is known to provide.
ErrorOr<void> refuse_procfs_target(int fd, const std::string& destination) {
    struct statfs st {};
    if (::fstatfs(fd, &st) != 0) return fail_errno("statfs");
    if (st.f_type != PROC_SUPER_MAGIC) return {};
    static constexpr std::array<std::string_view, 10> kAllowed{
        "/proc/cpuinfo", "/proc/diskstats",
        "/proc/meminfo", "/proc/stat",
        "/proc/swaps",   "/proc/uptime",
        "/proc/loadavg", "/proc/slabinfo",
        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
    if (std::ranges::find(kAllowed, clean_path(destination)) != kAllowed.end()) return {};
    return fail("destination lies on procfs; mounting over it is not allowed");
}

// The destination, resolved once: the mount goes where this fd points, whatever is renamed or
// swapped on the path afterwards.
ErrorOr<UniqueFd> open_target(int root_fd, const std::string& destination, Create create) {
    UniqueFd target = TRY(open_in_root(root_fd, destination, create));
    TRY(refuse_procfs_target(target.get(), destination));
    return target;
}

// Propagation (in order) and the recursive options (rro, rnosuid, ...), on the attached mount.
ErrorOr<void> apply_propagation_and_attrs(int mount, const MountOptions& opts) {
    for (unsigned long prop : opts.propagation) TRY(set_propagation(mount, prop));
    if (opts.attr_set == 0 && opts.attr_clr == 0) return {};
    return change_attrs(mount, opts.attr_set, opts.attr_clr, true);
}

// Host paths to bind instead when a filesystem cannot be mounted afresh: sysfs in a user namespace
// without its own network namespace, mqueue in one without its own IPC namespace (as runc does).
std::string fallback_source(const std::string& type) {
    if (type == "sysfs") return "/sys";
    if (type == "mqueue") return "/dev/mqueue";
    return "";
}

// The source cloned here, in the container's copy of the host's mounts, where the kernel locked
// what the container's user namespace may not change (flags, submounts). The runtime's clone made
// ahead (`ahead`) carries no such locks: it is taken only for an idmapped bind (only the host's root
// can idmap it) and where the container's root cannot reach the source; the source's own flags
// are then kept as a lock would keep them. Whether the source is a directory or a file decides
// what a missing destination is created as, and the clone is what gets mounted, so the two cannot
// differ.
ErrorOr<UniqueFd> mount_bind(int root_fd, const spec::Mount& m, const MountOptions& opts, UniqueFd ahead) {
    UniqueFd tree;
    if (!m.idmap) {
        auto own = clone_tree(AT_FDCWD, m.source, opts.recursive() ? AT_RECURSIVE : 0);
        if (own) tree = std::move(*own);
        bool unreachable = !own && (own.error().code == EACCES || own.error().code == EPERM);
        if (!own && !(unreachable && ahead)) return std::unexpected(own.error());
    }
    bool unlocked = !tree;
    if (unlocked && !ahead) return fail("idmap: no clone of " + m.source + " was made ahead");
    if (unlocked) tree = std::move(ahead);
    struct stat st {};
    if (::fstat(tree.get(), &st) != 0) return fail_errno("stat " + m.source);
    // Flags beyond MS_BIND|MS_REC: set as runc's second, remount call would, on the detached copy.
    unsigned long extra = opts.flags & ~kBindMechanics;
    if (unlocked)
        TRY(set_mount_flags_keeping_source(tree.get(), extra));
    else if (extra != 0)
        TRY(set_mount_flags(tree.get(), extra));
    UniqueFd target =
        TRY(open_target(root_fd, m.destination, S_ISDIR(st.st_mode) ? Create::directory : Create::file));
    TRY(attach(tree.get(), target.get()));
    return tree;
}

// fsconfig refused a parameter that mount(2) may take: a filesystem that parses its options itself
// (overlayfs's escaped commas, tmpfs's mpol=bind:0,2 nodelists). mount(2) wants a path, and the
// pinned target cannot name a mount made on it: openat(fd, "."), open_tree(fd, "", AT_EMPTY_PATH)
// and /proc/self/fd/N all stay on the directory underneath (checked on Linux 6.18); only a lookup
// by name from its parent crosses into the new mount, and the name is what a racer swaps. So the
// mount is made in a staging tmpfs of our own, attached over the target for the while (nothing
// else sees into it), on a directory of it that we name; a detached clone of the new mount,
// reached by that name from the staging's fd, is returned, and the staging is detached with what
// it holds.
ErrorOr<UniqueFd> mount_legacy(int target, const std::string& type, const std::string& source,
                               unsigned long flags, const std::string& data) {
    UniqueFd staging = TRY(new_filesystem("tmpfs", "tmpfs", 0, "mode=700"));
    TRY(attach(staging.get(), target));
    auto made = [&]() -> ErrorOr<UniqueFd> {
        if (::mkdirat(staging.get(), "m", 0700) != 0) return fail_errno("mkdir in the staging tmpfs");
        UniqueFd point(::openat(staging.get(), "m", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!point) return fail_errno("open the staging directory");
        TRY(sys_mount(source, fd_path(point.get()), type.c_str(), flags, data_or_null(data),
                      "mount " + type));
        return clone_tree(staging.get(), "m", 0);
    }();
    if (::umount2(fd_path(staging.get()).c_str(), MNT_DETACH) != 0 && made)
        return fail_errno("detach the staging tmpfs");
    return made;
}

// A new instance of m.type, detached: made with fsconfig, or with mount(2) where fsconfig refuses
// one of its parameters.
ErrorOr<UniqueFd> new_instance(int target, const spec::Mount& m, unsigned long flags, const std::string& data,
                               const std::string& mount_label) {
    std::string source = m.source.empty() ? m.type : m.source;
    std::string context = mount_context_for(m.type, data, mount_label);
    UniqueFd fs = TRY(open_filesystem(m.type));
    auto parameters = set_parameters(fs.get(), source, flags, data);
    if (parameters && !context.empty()) parameters = set_string_parameter(fs.get(), "context", context);
    if (parameters) return create_mount(fs.get(), flags);
    return map_error(mount_legacy(target, m.type, source, flags, with_context_option(data, context)),
                     [&](const Error& e) {
                         return Error{parameters.error().message + "; " + e.message, e.code};
                     });
}

// tmpcopyup: the directory under the new tmpfs (the pinned target: "." does not cross into a
// mount) copied into it through its fd, then the tmpfs made read-only through its fd, as asked.
ErrorOr<void> copy_up(int target, int tmpfs, unsigned long flags) {
    UniqueFd from(::openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!from) return fail_errno("open the directory to copy");
    UniqueFd into(::openat(tmpfs, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!into) return fail_errno("open the new tmpfs");
    TRY_CTX(copy_tree(from.get(), into.get()), "tmpcopyup");
    if (!(flags & MS_RDONLY)) return {};
    return change_attrs(tmpfs, MOUNT_ATTR_RDONLY, 0, false);
}

ErrorOr<UniqueFd> mount_filesystem(int root_fd, const spec::Mount& m, const MountOptions& opts,
                                   const std::string& mount_label) {
    UniqueFd target = TRY(open_target(root_fd, m.destination, Create::directory));
    // With tmpcopyup the tmpfs is writable until its content is in.
    unsigned long flags = opts.tmpcopyup ? opts.flags & ~static_cast<unsigned long>(MS_RDONLY) : opts.flags;
    auto made = new_instance(target.get(), m, flags, opts.data, mount_label);
    if (!made) {
        std::string host = fallback_source(m.type);
        if (made.error().code != EPERM || host.empty()) return std::unexpected(made.error());
        UniqueFd tree = TRY_CTX(clone_tree(AT_FDCWD, host, AT_RECURSIVE),
                                "mount " + m.type + " (EPERM), then bind " + host);
        TRY(set_mount_flags(tree.get(), opts.flags & ~kBindMechanics));
        TRY(attach(tree.get(), target.get()));
        return tree;
    }
    if (opts.tmpcopyup) TRY(copy_up(target.get(), made->get(), opts.flags));
    TRY(attach(made->get(), target.get()));
    return std::move(*made);
}

// built: this mount, when the runtime built it ahead (a cgroup mount, or the detached clone of a
// bind). With defer_readonly,
// a read-only mount is made writable and its handle returned, for the caller to make it read-only
// when it is done writing into it; otherwise nothing is returned.
ErrorOr<UniqueFd> mount_one(int root_fd, const spec::Mount& m, const std::vector<CgroupBind>& cgroup_binds,
                            UniqueFd built, bool defer_readonly, const std::string& mount_label) {
    auto opts = TRY(parse_mount_options(m.options));
    bool deferred = defer_readonly && (opts.flags & MS_RDONLY);
    if (deferred) opts.flags &= ~static_cast<unsigned long>(MS_RDONLY);
    UniqueFd mount;
    if (is_bind_mount(m)) {
        mount = TRY(mount_bind(root_fd, m, opts, std::move(built)));
    } else if (is_cgroup_mount(m)) {
        UniqueFd target = TRY(open_target(root_fd, m.destination, Create::directory));
        mount = TRY(mount_cgroup(target.get(), opts, cgroup_binds, std::move(built)));
    } else {
        mount = TRY(mount_filesystem(root_fd, m, opts, mount_label));
    }
    TRY(apply_propagation_and_attrs(mount.get(), opts));
    return deferred ? std::move(mount) : UniqueFd{};
}

// pivot_root refuses a new root whose parent mount is shared, and a bind of an unbindable mount
// fails: make the mount that holds the rootfs private (in our namespace only).
ErrorOr<void> make_rootfs_parent_private(const std::vector<MountInfo>& mounts, const std::string& rootfs) {
    const MountInfo* parent = nullptr;
    for (const auto& mi : mounts) {
        bool holds =
            mi.mount_point == "/" || rootfs == mi.mount_point || rootfs.starts_with(mi.mount_point + "/");
        if (holds && (!parent || mi.mount_point.size() >= parent->mount_point.size())) parent = &mi;
    }
    if (!parent || !(parent->shared || parent->unbindable)) return {};
    return sys_mount("", parent->mount_point, nullptr, MS_PRIVATE, nullptr,
                     "make " + parent->mount_point + " private");
}

bool mounts_dev(const spec::Spec& spec) {
    return std::ranges::any_of(spec.mounts,
                               [](const spec::Mount& m) { return clean_path(m.destination) == "/dev"; });
}

}  // namespace

ErrorOr<unsigned long> rootfs_propagation(const spec::Spec& spec) {
    std::string field = spec.linux_ ? spec.linux_->rootfs_propagation : "";
    auto propagation = TRY_CTX(parse_rootfs_propagation(field), "linux.rootfsPropagation");
    // rslave by default: host mounts still reach us, ours never reach the host.
    return propagation.value_or(MS_SLAVE | MS_REC);
}

ErrorOr<void> make_mounts(const spec::Spec& spec, int root_fd, CgroupView cgroups, MountInputs inputs) {
    bool joined = false;
    auto join_once = [&]() -> ErrorOr<void> {
        if (joined || !inputs.join_cgroups) return {};
        joined = true;
        cgroups = TRY(inputs.join_cgroups());
        return {};
    };
    size_t cgroup_mounts = 0;
    // A read-only /dev: writable until create_devices() has made its nodes and links (and the
    // mounts below it their mount points), then read-only through its handle.
    UniqueFd readonly_dev;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const auto& m = spec.mounts[i];
        UniqueFd built;
        if (i < inputs.binds_ahead.size()) built = std::move(inputs.binds_ahead[i]);
        if (is_cgroup_mount(m)) {
            TRY(join_once());
            if (cgroup_mounts < cgroups.built.size()) built = std::move(cgroups.built[cgroup_mounts]);
            ++cgroup_mounts;
        }
        bool dev = clean_path(m.destination) == "/dev";
        UniqueFd held =
            TRY_CTX(mount_one(root_fd, m, cgroups.binds, std::move(built), dev, inputs.mount_label),
                    "mounts[" + std::to_string(i) + "] (" + m.destination + ")");
        if (dev) readonly_dev = std::move(held);
    }
    TRY(join_once());
    if (mounts_dev(spec)) TRY_CTX(create_devices(root_fd, spec), "/dev");
    if (readonly_dev)
        TRY_CTX(change_attrs(readonly_dev.get(), MOUNT_ATTR_RDONLY, 0, false), "/dev: make read-only");
    return {};
}

ErrorOr<void> prepare_rootfs(const spec::Spec& spec, const std::string& rootfs, MountInputs inputs) {
    if (!rootfs.starts_with('/')) return fail("rootfs \"" + rootfs + "\" must be an absolute path");
    unsigned long applied = TRY(rootfs_propagation(spec));
    TRY(sys_mount("", "/", nullptr, applied, nullptr, "set propagation of /"));
    // After rslave or rprivate no mount is shared or unbindable, and the runtime says what the
    // cgroup mounts bind: only otherwise is the mount table (0.08 ms to read here) needed.
    bool none_shared = (applied & MS_REC) && (applied & (MS_SLAVE | MS_PRIVATE));
    CgroupView cgroups;
    if (!none_shared || !inputs.join_cgroups) {
        auto host_mounts = TRY(read_mountinfo());
        TRY(make_rootfs_parent_private(host_mounts, rootfs));
        if (!inputs.join_cgroups) cgroups.binds = whole_host_hierarchies(host_mounts, rootfs);
    }
    // A mount point of its own, so that pivot_root can take it and the mounts below stay with it.
    TRY(sys_mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr,
                  "bind rootfs " + rootfs + " onto itself"));
    UniqueFd root_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return fail_errno("open rootfs " + rootfs);
    return make_mounts(spec, root_fd.get(), std::move(cgroups), std::move(inputs));
}

}  // namespace hutch::rootfs
