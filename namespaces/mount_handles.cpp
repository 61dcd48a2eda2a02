// The new mount API (Linux 5.12+: fsopen, fsconfig, fsmount, open_tree, move_mount,
// mount_setattr) on handles, for every mount the container gets (see mounting.h for why).
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
constexpr unsigned long kLockable =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME | kAtimeFlags;

struct FlagAttr {
    unsigned long flag;
    uint64_t attr;
};

// The per-mount flags that are bits of their own (the access time is a field: atime_attr).
constexpr std::array<FlagAttr, 6> kPerMount{{
    {MS_RDONLY, MOUNT_ATTR_RDONLY},
    {MS_NOSUID, MOUNT_ATTR_NOSUID},
    {MS_NODEV, MOUNT_ATTR_NODEV},
    {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
    {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME},
    {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
}};

// Flags of the superblock, as fsconfig names them: what mount(2) makes of the same MS_* flags.
// "ro" is both: mount(2) makes the superblock and the mount read-only.
struct FlagName {
    unsigned long flag;
    const char* name;
};
constexpr std::array<FlagName, 5> kSuperblock{{
    {MS_RDONLY, "ro"},
    {MS_SYNCHRONOUS, "sync"},
    {MS_DIRSYNC, "dirsync"},
    {MS_LAZYTIME, "lazytime"},
    {MS_MANDLOCK, "mand"},
}};

uint64_t attrs_of(unsigned long flags) {
    uint64_t attrs = 0;
    for (auto [flag, attr] : kPerMount)
        if (flags & flag) attrs |= attr;
    return attrs;
}

// The access-time mode: relatime (0) unless noatime or strictatime, as with mount(2).
uint64_t atime_attr(unsigned long flags) {
    if (flags & MS_NOATIME) return MOUNT_ATTR_NOATIME;
    if (flags & MS_STRICTATIME) return MOUNT_ATTR_STRICTATIME;
    return MOUNT_ATTR_RELATIME;
}

// fsconfig's failures say little in errno; the kernel logs why to the context ("e tmpfs: Bad value
// for 'mode'"), which is read back into the error.
std::unexpected<Error> fs_failure(int fs, const std::string& what) {
    int err = errno;
    std::array<char, 512> log{};
    ssize_t n = ::read(fs, log.data(), log.size() - 1);
    if (n <= 2) return fail_errno(what, err);
    return fail_errno(what + " (" + std::string(log.data() + 2, static_cast<size_t>(n) - 2) + ")", err);
}

ErrorOr<void> setattr(int mount, unsigned at_flags, uint64_t set, uint64_t clear, uint64_t propagation = 0) {
    struct mount_attr attr {};
    attr.attr_set = set;
    attr.attr_clr = clear;
    attr.propagation = propagation;
    if (::mount_setattr(mount, "", AT_EMPTY_PATH | at_flags, &attr, sizeof attr) != 0)
        return fail_errno("mount_setattr");
    return {};
}

// Exactly `flags`, as a bind remount sets them. As with mount(2), nodiratime goes with the
// access-time mode: without any access-time option both stay as the mount has them.
ErrorOr<void> set_exactly(int mount, unsigned long flags) {
    uint64_t all = 0;
    for (auto [flag, attr] : kPerMount) all |= attr;
    uint64_t set = attrs_of(flags);
    uint64_t clear = all & ~set;
    if (flags & (kAtimeFlags | MS_NODIRATIME)) {
        set |= atime_attr(flags);
        clear |= MOUNT_ATTR__ATIME;
    } else {
        clear &= ~static_cast<uint64_t>(MOUNT_ATTR_NODIRATIME);
    }
    return setattr(mount, 0, set, clear);
}

}  // namespace

ErrorOr<void> attach(int mount, int target_fd) {
    if (::move_mount(mount, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        return fail_errno("move_mount");
    return {};
}

ErrorOr<UniqueFd> clone_tree(int dir_fd, const std::string& path, unsigned flags) {
    UniqueFd tree(::open_tree(dir_fd, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags));
    if (!tree) return fail_errno("open_tree " + (path.empty() ? std::string(".") : path));
    return tree;
}

namespace {

// The source's own lockable flags, added to `flags` (an explicit access-time option wins).
ErrorOr<unsigned long> with_source_flags(int mount, unsigned long flags) {
    unsigned long keep = TRY(mount_flags_of(mount)) & kLockable;
    if (flags & kAtimeFlags) keep &= ~kAtimeFlags;
    return flags | keep;
}

}  // namespace

ErrorOr<void> set_mount_flags(int mount, unsigned long flags) {
    auto exact = set_exactly(mount, flags);
    if (exact || exact.error().code != EPERM) return exact;
    return set_exactly(mount, TRY(with_source_flags(mount, flags)));
}

ErrorOr<void> set_mount_flags_keeping_source(int mount, unsigned long flags) {
    return set_exactly(mount, TRY(with_source_flags(mount, flags)));
}

ErrorOr<void> change_attrs(int mount, uint64_t set, uint64_t clear, bool recursive) {
    return setattr(mount, recursive ? AT_RECURSIVE : 0, set, clear);
}

ErrorOr<void> idmap_mount(int mount, int userns_fd, bool recursive) {
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns_fd);
    if (::mount_setattr(mount, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) == 0)
        return {};
    // The kernel says EINVAL for a filesystem that cannot be idmapped (tmpfs before Linux 6.3, 9p,
    // NFS, ...): said in words, since the errno alone reads as a bad config.
    if (errno == EINVAL)
        return fail(
            "mount_setattr MOUNT_ATTR_IDMAP: the source's filesystem cannot be idmapped on this kernel");
    return fail_errno("mount_setattr MOUNT_ATTR_IDMAP");
}

ErrorOr<void> add_flags_recursively(int mount, unsigned long flags) {
    constexpr unsigned long kUsual = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    uint64_t set = attrs_of(flags & kUsual);
    if (set == 0) return {};
    return change_attrs(mount, set, 0, true);
}

ErrorOr<void> set_propagation(int mount, unsigned long propagation) {
    return setattr(mount, (propagation & MS_REC) ? AT_RECURSIVE : 0, 0, 0, propagation & ~MS_REC);
}

ErrorOr<UniqueFd> open_filesystem(const std::string& type) {
    UniqueFd fs(::fsopen(type.c_str(), FSOPEN_CLOEXEC));
    if (!fs) return fail_errno("fsopen " + type);
    return fs;
}

ErrorOr<void> set_string_parameter(int fs, const std::string& key, const std::string& value) {
    if (::fsconfig(fs, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
        return fs_failure(fs, "fsconfig " + key + "=" + value);
    return {};
}

ErrorOr<void> set_parameters(int fs, const std::string& source, unsigned long flags,
                             const std::string& data) {
    if (!source.empty()) TRY(set_string_parameter(fs, "source", source));
    for (auto [flag, name] : kSuperblock)
        if ((flags & flag) && ::fsconfig(fs, FSCONFIG_SET_FLAG, name, nullptr, 0) != 0)
            return fs_failure(fs, std::string("fsconfig ") + name);
    for (size_t pos = 0; pos < data.size();) {
        size_t end = data.find(',', pos);
        if (end == std::string::npos) end = data.size();
        std::string option = data.substr(pos, end - pos);
        pos = end + 1;
        if (option.empty()) continue;
        size_t eq = option.find('=');
        int rc = eq == std::string::npos ? ::fsconfig(fs, FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0)
                                         : ::fsconfig(fs, FSCONFIG_SET_STRING, option.substr(0, eq).c_str(),
                                                      option.c_str() + eq + 1, 0);
        if (rc != 0) return fs_failure(fs, "fsconfig " + option);
    }
    return {};
}

ErrorOr<UniqueFd> create_mount(int fs, unsigned long flags) {
    if (::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return fs_failure(fs, "create the filesystem");
    UniqueFd mount(
        ::fsmount(fs, FSMOUNT_CLOEXEC, static_cast<unsigned>(attrs_of(flags) | atime_attr(flags))));
    if (!mount) return fail_errno("fsmount");
    return mount;
}

ErrorOr<UniqueFd> new_filesystem(const std::string& type, const std::string& source, unsigned long flags,
                                 const std::string& data) {
    UniqueFd fs = TRY(open_filesystem(type));
    TRY(set_parameters(fs.get(), source, flags, data));
    return create_mount(fs.get(), flags);
}

}  // namespace hutch::rootfs
