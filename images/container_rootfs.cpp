// The overlay rootfs of a container (container_rootfs.h).
#include "images/container_rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "images/rooted_path.h"

namespace hutch::images {
namespace {

// overlayfs splits its options at ',' and lowerdir at ':'; a backslash escapes either.
std::string escaped(const std::string& path) {
    std::string out;
    for (char c : path) {
        if (c == ',' || c == ':' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

// True when it made the directory, false when it was there.
ErrorOr<bool> make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) == 0) return true;
    if (errno != EEXIST) return fail_errno("mkdir " + path);
    return false;
}

ErrorOr<bool> is_mount_point(const std::string& path) {
    struct statx st {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) == -1) {
        if (errno == ENOENT) return false;
        return fail_errno("statx " + path);
    }
    return (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (st.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// overlayfs shows "/" with the upper directory's owner and mode, so a fresh upper takes those of
// the image's "/" (the top layer's root): else every container's "/" would be root's 0700.
// Done when the upper is made, so that a container that changed its own "/" keeps the change.
ErrorOr<void> give_upper_the_image_root(const std::string& upper, const std::string& top_lower) {
    struct stat image_root {};
    if (::stat(top_lower.c_str(), &image_root) == -1) return fail_errno("stat " + top_lower);
    UniqueFd upper_fd(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upper_fd) return fail_errno("open " + upper);
    if (::fchown(upper_fd.get(), image_root.st_uid, image_root.st_gid) == -1)
        return fail_errno("chown " + upper);
    if (::fchmod(upper_fd.get(), image_root.st_mode & 07777) == -1) return fail_errno("chmod " + upper);
    return {};
}

}  // namespace

ErrorOr<void> mount_container_rootfs(const std::string& dir, const std::vector<std::string>& lowers,
                                     bool removed_on_exit) {
    bool fresh_upper = TRY(make_dir(dir + "/upper"));
    for (const char* sub : {"/work", "/rootfs"}) TRY(make_dir(dir + sub));
    // Mounted already: a chmod now would change the overlay's own "/" (and copy it up).
    if (TRY(is_mount_point(dir + "/rootfs"))) return {};
    // The mount point itself is what the container sees as "/" before the overlay hides it.
    if (::chmod((dir + "/rootfs").c_str(), 0755) == -1) return fail_errno("chmod " + dir + "/rootfs");
    std::vector<std::string> stack = lowers;
    // An image without layers (FROM scratch, nothing added) is an empty directory.
    if (stack.empty()) {
        TRY(make_dir(dir + "/empty"));
        if (::chmod((dir + "/empty").c_str(), 0755) == -1) return fail_errno("chmod " + dir + "/empty");
        stack.push_back(dir + "/empty");
    }
    if (fresh_upper) TRY(give_upper_the_image_root(dir + "/upper", stack.front()));
    std::string options = "lowerdir=";
    for (size_t i = 0; i < stack.size(); ++i) options += (i ? ":" : "") + escaped(stack[i]);
    options += ",upperdir=" + escaped(dir + "/upper") + ",workdir=" + escaped(dir + "/work");
    if (removed_on_exit) options += ",volatile";
    // mount(2) takes one page of options: about 40 layers under a short storage root.
    if (options.size() >= static_cast<size_t>(::sysconf(_SC_PAGESIZE)))
        return fail("the image has too many layers (" + std::to_string(lowers.size()) +
                    ") for one overlay mount under this storage root");
    if (::mount("overlay", (dir + "/rootfs").c_str(), "overlay", MS_NODEV, options.c_str()) == -1)
        return fail_errno("mount overlay on " + dir + "/rootfs");
    return {};
}

ErrorOr<void> unmount_container_rootfs(const std::string& dir) {
    std::string rootfs = dir + "/rootfs";
    while (TRY(is_mount_point(rootfs))) {
        if (::umount2(rootfs.c_str(), MNT_DETACH) == -1) return fail_errno("unmount " + rootfs);
    }
    return {};
}

ErrorOr<void> remove_container_dir(const std::string& dir) {
    TRY(unmount_container_rootfs(dir));
    auto slash = dir.find_last_of('/');
    std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
    UniqueFd parent_fd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd) return fail_errno("open " + parent);
    return remove_tree_at(parent_fd.get(), dir.substr(slash + 1));
}

}  // namespace hutch::images
