// Steps 2 and 3: switching into the rootfs, then what must happen inside it (read-only and masked
// paths, a read-only root), resolved inside the new root like everything else.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

ErrorOr<void> pivot_into(const std::string& rootfs) {
    UniqueFd old_root(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!old_root) return fail_errno("open /");
    UniqueFd new_root(::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!new_root) return fail_errno("open " + rootfs);
    if (::fchdir(new_root.get()) != 0) return fail_errno("chdir " + rootfs);
    // pivot_root(".", ".") stacks the old root on top of the new one, so no put_old directory has
    // to exist in the image; it is then detached from where it sits.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root " + rootfs);
    // The kernel promises nothing about our cwd after pivot_root: go to the old root explicitly.
    if (::fchdir(old_root.get()) != 0) return fail_errno("chdir to the old root");
    // rslave first, so that detaching the old root cannot propagate to the host's mounts.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
        return fail_errno("make the old root rslave");
    if (::umount2(".", MNT_DETACH) != 0) return fail_errno("detach the old root");
    if (::chdir("/") != 0) return fail_errno("chdir /");
    return {};
}

// Before a chroot, detach what the host has mounted outside the rootfs, so it is not reachable
// through the old tree (best effort: locked mounts in a user namespace stay, hidden by the chroot).
void detach_other_mounts(const std::string& rootfs) {
    auto mounts = read_mountinfo();
    if (!mounts) return;
    std::vector<std::string> points;
    for (const auto& mi : *mounts) {
        const std::string& p = mi.mount_point;
        bool inside = p == rootfs || p.starts_with(rootfs + "/");
        bool holds_rootfs = p == "/" || rootfs.starts_with(p + "/");
        if (!inside && !holds_rootfs) points.push_back(p);
    }
    // Deepest first, so that a parent does not take its children with it before they are seen.
    std::ranges::sort(points, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
}

// no_pivot: runc's msMoveRoot. Used where pivot_root cannot work (a ramfs root).
ErrorOr<void> move_into(const std::string& rootfs) {
    detach_other_mounts(rootfs);
    if (::chdir(rootfs.c_str()) != 0) return fail_errno("chdir " + rootfs);
    if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0)
        return fail_errno("move " + rootfs + " to /");
    if (::chroot(".") != 0) return fail_errno("chroot " + rootfs);
    if (::chdir("/") != 0) return fail_errno("chdir /");
    return {};
}

// After pivot_root the container may have no /proc, so the mounts below are made with the
// fd-based mount API (mounting.h) on the O_PATH fd that resolution returned, rather than through
// /proc/self/fd/N.

// A recursive bind of the path onto itself, then read-only. mount_setattr changes only the
// read-only bit, so the flags the mount already has (locked ones in a user namespace) are kept.
ErrorOr<void> make_readonly(int root_fd, const std::string& path) {
    auto target = open_in_root(root_fd, path, Create::nothing);
    if (!target && target.error().code == ENOENT) return {};
    if (!target) return std::unexpected(target.error());
    UniqueFd tree = TRY(clone_tree(target->get(), "", AT_EMPTY_PATH | AT_RECURSIVE));
    TRY_CTX(change_attrs(tree.get(), MOUNT_ATTR_RDONLY, 0, false), "make read-only");
    return attach(tree.get(), target->get());
}

// The container's own /dev/null, checked: if config has no /dev, the image's could be anything.
ErrorOr<UniqueFd> open_dev_null() {
    UniqueFd fd = TRY(clone_tree(AT_FDCWD, "/dev/null", 0));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat /dev/null");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
        return fail("/dev/null in the container is not the null device");
    return fd;
}

ErrorOr<UniqueFd> empty_readonly_tmpfs() { return new_filesystem("tmpfs", "tmpfs", MS_RDONLY, ""); }

// What masks a directory: an empty read-only tmpfs. One is made and attached to the first
// directory; the others get binds of it, which cost a fifth of a new tmpfs each.
class DirectoryCover {
public:
    ErrorOr<void> attach_to(int target) {
        if (!tmpfs_) {
            tmpfs_ = TRY(empty_readonly_tmpfs());
            return attach(tmpfs_.get(), target);
        }
        // Cloned once attached: older kernels refuse to clone a mount that is not in a namespace.
        UniqueFd bind = TRY(clone_tree(tmpfs_.get(), "", AT_EMPTY_PATH));
        return attach(bind.get(), target);
    }

private:
    UniqueFd tmpfs_;
};

// A masked directory becomes an empty read-only tmpfs, a masked file reads as /dev/null.
ErrorOr<void> mask(int root_fd, const std::string& path, DirectoryCover& directory_cover) {
    auto target = open_in_root(root_fd, path, Create::nothing);
    if (!target && target.error().code == ENOENT) return {};
    if (!target) return std::unexpected(target.error());
    struct stat st {};
    if (::fstat(target->get(), &st) != 0) return fail_errno("stat");
    if (S_ISDIR(st.st_mode)) return directory_cover.attach_to(target->get());
    UniqueFd dev_null = TRY(open_dev_null());
    return attach(dev_null.get(), target->get());
}

ErrorOr<void> make_root_readonly() {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno("open /");
    unsigned long flags = TRY(mount_flags_of(root.get()));
    if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, nullptr) != 0)
        return fail_errno("remount / read-only");
    return {};
}

}  // namespace

ErrorOr<void> enter_rootfs(const std::string& rootfs_abs_path, bool no_pivot) {
    return no_pivot ? move_into(rootfs_abs_path) : pivot_into(rootfs_abs_path);
}

ErrorOr<void> finalize_rootfs(const spec::Spec& spec) {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno("open /");
    if (spec.linux_) {
        const auto& l = *spec.linux_;
        for (size_t i = 0; i < l.readonly_paths.size(); ++i)
            TRY_CTX(make_readonly(root.get(), l.readonly_paths[i]),
                    "linux.readonlyPaths[" + std::to_string(i) + "] (" + l.readonly_paths[i] + ")");
        DirectoryCover directory_cover;
        for (size_t i = 0; i < l.masked_paths.size(); ++i)
            TRY_CTX(mask(root.get(), l.masked_paths[i], directory_cover),
                    "linux.maskedPaths[" + std::to_string(i) + "] (" + l.masked_paths[i] + ")");
    }
    if (spec.root.readonly) TRY_CTX(make_root_readonly(), "root.readonly");
    if (!spec.linux_) return {};
    // A shared root must be shared in the new tree too: pivot_root needed it private for a while.
    auto propagation =
        TRY_CTX(parse_rootfs_propagation(spec.linux_->rootfs_propagation), "linux.rootfsPropagation");
    if (propagation && ::mount(nullptr, "/", nullptr, *propagation, nullptr) != 0)
        return fail_errno("linux.rootfsPropagation: set propagation of /");
    return {};
}

}  // namespace hutch::rootfs
