// The cgroup mounts of config.json: the container's own cgroup directories, bound read-only.
// v1 (and hybrid): a tmpfs holding a bind of each hierarchy; v2: one bind at the mount point.
// The runtime builds them ahead, detached, while the container's process makes its other mounts
// (build_cgroup_mounts); the process only attaches them, or makes them itself where it cannot.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

bool binds_at_mount_point(const std::vector<CgroupBind>& binds) {
    return binds.size() == 1 && binds.front().name.empty();
}

// What build_cgroup_mounts() can do ahead: the usual per-mount flags, nothing else.
bool can_build_ahead(const MountOptions& opts) {
    constexpr unsigned long kUsual = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
    return (opts.flags & ~kUsual) == 0 && opts.data.empty() && !opts.tmpcopyup;
}

// Into top, an empty tmpfs (so nothing in it can be a symlink): a directory per hierarchy, with
// a recursive bind of its source on it.
ErrorOr<void> bind_hierarchies(int top, const std::vector<CgroupBind>& binds) {
    for (const auto& bind : binds) {
        if (::mkdirat(top, bind.name.c_str(), 0755) != 0) return fail_errno("mkdir " + bind.name);
        UniqueFd tree = TRY(clone_tree(AT_FDCWD, bind.source, AT_RECURSIVE));
        // Under a detached top, refused (EINVAL) before Linux 6.15.
        if (::move_mount(tree.get(), "", top, bind.name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return fail_errno("bind " + bind.source + " on " + bind.name);
    }
    return {};
}

// The tmpfs of the v1 layout, detached, with the cgroup mount's flags but writable until its
// hierarchies are in.
ErrorOr<UniqueFd> hierarchies_tmpfs(const MountOptions& opts) {
    return new_filesystem("tmpfs", "tmpfs", opts.flags & ~(kBindMechanics | MS_RDONLY), "mode=755");
}

// A cgroup mount built ahead, detached: the v2 directory itself, or a tmpfs with a bind of each
// v1 hierarchy; the container's process attaches it whole.
ErrorOr<UniqueFd> build_cgroup_mount(const MountOptions& opts, const std::vector<CgroupBind>& binds) {
    if (binds_at_mount_point(binds)) {
        UniqueFd tree = TRY(clone_tree(AT_FDCWD, binds.front().source, AT_RECURSIVE));
        TRY(add_flags_recursively(tree.get(), opts.flags));
        return tree;
    }
    UniqueFd top = TRY(hierarchies_tmpfs(opts));
    TRY(bind_hierarchies(top.get(), binds));
    TRY(add_flags_recursively(top.get(), opts.flags));
    return top;
}

}  // namespace

bool is_cgroup_mount(const spec::Mount& m) { return m.type == "cgroup" || m.type == "cgroup2"; }

// Read before the first container mount: later, binds of /sys (the sysfs fallback) would show
// copies of the hierarchies inside the rootfs as well.
std::vector<CgroupBind> whole_host_hierarchies(const std::vector<MountInfo>& mounts,
                                               const std::string& rootfs) {
    std::vector<CgroupBind> out;
    for (const auto& mi : mounts) {
        bool inside = mi.mount_point == rootfs || mi.mount_point.starts_with(rootfs + "/");
        if (inside || (mi.fs_type != "cgroup" && mi.fs_type != "cgroup2")) continue;
        if (mi.fs_type == "cgroup2" && mi.mount_point == "/sys/fs/cgroup") return {{"", mi.mount_point}};
        out.push_back({mi.mount_point.substr(mi.mount_point.rfind('/') + 1), mi.mount_point});
    }
    return out;
}

ErrorOr<UniqueFd> mount_cgroup(int target_fd, const MountOptions& opts, const std::vector<CgroupBind>& binds,
                               UniqueFd built) {
    // The runtime's mount, attached whole; should this kernel refuse it, the mount is made here.
    if (built && attach(built.get(), target_fd)) return built;
    if (binds_at_mount_point(binds)) {
        UniqueFd tree = TRY(build_cgroup_mount(opts, binds));
        TRY(attach(tree.get(), target_fd));
        return tree;
    }
    // v1: the tmpfs attached first, its hierarchies bound into it through its fd (before 6.15 no
    // mount can go under a detached one), then made read-only (...) with them, through its fd too.
    UniqueFd top = TRY(hierarchies_tmpfs(opts));
    TRY(attach(top.get(), target_fd));
    TRY(bind_hierarchies(top.get(), binds));
    TRY(add_flags_recursively(top.get(), opts.flags));
    return top;
}

std::vector<UniqueFd> build_cgroup_mounts(const spec::Spec& spec, const std::vector<CgroupBind>& binds) {
    std::vector<UniqueFd> built;
    for (const auto& m : spec.mounts) {
        if (!is_cgroup_mount(m)) continue;
        auto opts = parse_mount_options(m.options);
        if (!opts || !can_build_ahead(*opts)) return {};
        auto mount = build_cgroup_mount(*opts, binds);
        if (!mount) return {};
        built.push_back(std::move(*mount));
    }
    return built;
}

}  // namespace hutch::rootfs
