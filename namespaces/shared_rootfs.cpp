// The rootfs of a container that has no mount namespace of its own (rootfs.h says why each step
// is as it is): made as a detached copy whose id is recorded before it is attached, entered with
// chroot, and found again by that id at delete.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

// The rootfs path, opened without following a last symlink: it is the bundle's, not the
// container's, but a symlink there would still move the mount elsewhere.
ErrorOr<UniqueFd> open_rootfs(const std::string& rootfs, int flags) {
    if (!rootfs.starts_with('/')) return fail("rootfs \"" + rootfs + "\" must be an absolute path");
    UniqueFd fd(::open(rootfs.c_str(), flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return fail_errno("open rootfs " + rootfs);
    return fd;
}

// True when the mount `id` lies on the mount `ancestor`, directly or through others.
bool mounted_on(uint64_t id, uint64_t ancestor, const std::map<uint64_t, uint64_t>& parents) {
    for (int depth = 0; depth < 64; ++depth) {
        auto parent = parents.find(id);
        if (parent == parents.end() || parent->second == id) return false;
        if (parent->second == ancestor) return true;
        id = parent->second;
    }
    return false;
}

ErrorOr<std::map<uint64_t, uint64_t>> mount_parents() {
    std::map<uint64_t, uint64_t> parents;
    for (const auto& mi : TRY(read_mountinfo())) parents[mi.id] = mi.parent_id;
    return parents;
}

}  // namespace

ErrorOr<uint64_t> mount_id_of(int fd) {
    struct statx stx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0)
        return fail_errno("statx");
    if (!(stx.stx_mask & STATX_MNT_ID)) return fail("statx: the kernel gave no mount id");
    return stx.stx_mnt_id;
}

ErrorOr<uint64_t> prepare_shared_rootfs(const spec::Spec& spec, const std::string& rootfs,
                                        const RecordRootfsMount& record, MountInputs inputs) {
    CgroupView cgroups = TRY(inputs.join_cgroups());
    inputs.join_cgroups = {};
    UniqueFd target = TRY(open_rootfs(rootfs, O_PATH));
    // linux.rootfsPropagation (rslave by default) on the copy only: host mounts may still reach
    // the container, the container's never reach anyone else.
    unsigned long propagation = TRY(rootfs_propagation(spec));
    UniqueFd tree =
        TRY_CTX(clone_tree(target.get(), "", AT_EMPTY_PATH | AT_RECURSIVE), "copy rootfs " + rootfs);
    TRY_CTX(set_propagation(tree.get(), propagation), "set propagation of the rootfs");
    uint64_t id = TRY(mount_id_of(tree.get()));
    TRY(record(id));
    TRY_CTX(attach(tree.get(), target.get()), "attach rootfs " + rootfs);
    // The copy's fd now names the attached mount's root: every mount goes under it.
    TRY(make_mounts(spec, tree.get(), std::move(cgroups), std::move(inputs)));
    return id;
}

ErrorOr<void> chroot_into(const std::string& rootfs, uint64_t mount_id) {
    UniqueFd root = TRY(open_rootfs(rootfs, O_RDONLY));
    if (TRY(mount_id_of(root.get())) != mount_id)
        return fail("rootfs " + rootfs + ": something was mounted over the container's rootfs");
    if (::fchdir(root.get()) != 0) return fail_errno("chdir " + rootfs);
    if (::chroot(".") != 0) return fail_errno("chroot " + rootfs);
    if (::chdir("/") != 0) return fail_errno("chdir /");
    return {};
}

ErrorOr<void> unmount_rootfs(const std::string& rootfs, uint64_t mount_id) {
    // What the container mounted over its own "/" covers the rootfs mount: those go first, each
    // checked to lie on it, so that nobody else's mount is ever taken.
    for (int covering = 0; covering < 64; ++covering) {
        auto top = open_rootfs(rootfs, O_PATH);
        if (!top && top.error().code == ENOENT) return {};
        if (!top) return std::unexpected(top.error());
        uint64_t top_id = TRY(mount_id_of(top->get()));
        bool ours = top_id == mount_id;
        if (!ours && !mounted_on(top_id, mount_id, TRY(mount_parents()))) return {};
        if (::umount2(fd_path(top->get()).c_str(), MNT_DETACH) != 0)
            return fail_errno("unmount the container's rootfs " + rootfs);
        if (ours) return {};
    }
    return fail("rootfs " + rootfs + ": too many mounts over the container's rootfs");
}

}  // namespace hutch::rootfs
