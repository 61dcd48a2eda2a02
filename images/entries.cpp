// Creating each kind of tar entry below its parent's fd, then giving it the owner, mode, xattrs
// and mtime the tar says. The order matters: chown clears setuid/setgid and security.capability,
// so it comes first, then the mode, then the xattrs; the mtime last, after the data is written.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "images/unpack_internal.h"

namespace hutch::images {
namespace {

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// xattrs for an fd that may be O_PATH (symlinks, device nodes, fifos have no other kind): the
// kernel's /proc/self/fd/N link leads to exactly that inode, never through a path in the layer.
ErrorOr<void> set_xattrs_path_fd(int path_fd, const EntryAttributes& attrs) {
    for (const auto& [name, value] : attrs.xattrs) {
        if (setxattr(proc_fd_path(path_fd).c_str(), name.c_str(), value.data(), value.size(), 0) == -1)
            return fail_errno("set xattr " + name);
    }
    return {};
}

ErrorOr<void> set_xattrs(int fd, const EntryAttributes& attrs) {
    for (const auto& [name, value] : attrs.xattrs) {
        if (fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) == -1)
            return fail_errno("set xattr " + name);
    }
    return {};
}

// Owner, mode, xattrs of an open regular file or directory.
ErrorOr<void> set_attributes(int fd, const EntryAttributes& attrs) {
    if (fchown(fd, attrs.uid, attrs.gid) == -1) return fail_errno("chown");
    if (fchmod(fd, attrs.permissions) == -1) return fail_errno("chmod");
    return set_xattrs(fd, attrs);
}

// Makes room for a new entry: whatever is at name is removed, except a directory where a
// directory comes (tar merges a directory's entries into one already there).
ErrorOr<void> clear_slot(int parent_fd, const std::string& name, bool keep_directory) {
    struct stat st {};
    if (fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1) {
        if (errno == ENOENT) return {};
        return fail_errno("stat");
    }
    if (keep_directory && S_ISDIR(st.st_mode)) return {};
    return remove_tree_at(parent_fd, name);
}

// Writes the entry's data; returns where the last block written ends.
ErrorOr<la_int64_t> write_data(archive* reader, int fd) {
    la_int64_t end = 0;
    for (;;) {
        const void* block = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        int rc = archive_read_data_block(reader, &block, &size, &offset);
        if (rc == ARCHIVE_EOF) return end;
        if (rc != ARCHIVE_OK) return fail(std::string("read data: ") + archive_error_string(reader));
        // Sparse files come as blocks at offsets; the holes between them stay holes.
        const char* data = static_cast<const char*>(block);
        while (size > 0) {
            ssize_t n = pwrite(fd, data, size, offset);
            if (n == -1) {
                if (errno == EINTR) continue;
                return fail_errno("write");
            }
            data += n;
            offset += n;
            size -= static_cast<size_t>(n);
        }
        end = std::max(end, offset);
    }
}

ErrorOr<void> create_regular(UnpackState& state, archive_entry* entry, int parent_fd, const std::string& name,
                             const EntryAttributes& attrs) {
    // O_EXCL | O_NOFOLLOW: clear_slot removed what was there; should anything reappear, fail
    // rather than write through it.
    int raw = openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw == -1) return fail_errno("create");
    UniqueFd fd(raw);
    la_int64_t written = TRY(write_data(state.reader, fd.get()));
    // Only a sparse file whose last hole runs to its end is shorter than its size here. A
    // truncate to the size a file already has is no free no-op: ext4 still runs its truncate
    // path (5 % of an unpack's time).
    if (archive_entry_size_is_set(entry) && written < archive_entry_size(entry) &&
        ftruncate(fd.get(), archive_entry_size(entry)) == -1)
        return fail_errno("truncate");
    TRY(set_attributes(fd.get(), attrs));
    timespec times[2] = {attrs.mtime, attrs.mtime};
    if (futimens(fd.get(), times) == -1) return fail_errno("set mtime");
    return {};
}

ErrorOr<void> create_directory(UnpackState& state, int parent_fd, const RootedPath& path,
                               const EntryAttributes& attrs) {
    if (mkdirat(parent_fd, path.name.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir");
    auto fd = TRY(open_dir_at(parent_fd, path.name));
    TRY(set_attributes(fd.get(), attrs));
    state.directory_times.push_back({path, attrs.mtime});
    return {};
}

// Symlinks, device nodes and fifos: made with their *at() call, then reached for their
// attributes through an O_PATH fd or their parent, never by following them.
ErrorOr<void> set_node_attributes(int parent_fd, const std::string& name, const EntryAttributes& attrs,
                                  bool is_symlink) {
    if (fchownat(parent_fd, name.c_str(), attrs.uid, attrs.gid, AT_SYMLINK_NOFOLLOW) == -1)
        return fail_errno("chown");
    // A symlink's mode means nothing on Linux; for a node just made here, chmod reaches the node.
    if (!is_symlink && fchmodat(parent_fd, name.c_str(), attrs.permissions, 0) == -1)
        return fail_errno("chmod");
    if (!attrs.xattrs.empty()) {
        int raw = openat(parent_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (raw == -1) return fail_errno("open");
        UniqueFd fd(raw);
        TRY(set_xattrs_path_fd(fd.get(), attrs));
    }
    timespec times[2] = {attrs.mtime, attrs.mtime};
    if (utimensat(parent_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) == -1) return fail_errno("set mtime");
    return {};
}

ErrorOr<void> create_hardlink(UnpackState& state, const char* target_name, int parent_fd,
                              const RootedPath& path) {
    auto target = TRY_CTX(split_rooted_path(target_name), "hardlink target");
    if (target.is_root()) return fail("hardlink target is the layer root");
    if (target.str() == path.str()) return fail("hardlink to itself");
    // The target is resolved inside the root like any entry; linkat without AT_SYMLINK_FOLLOW
    // links a symlink itself, never what it points to.
    auto target_parent = TRY_CTX(open_parent(state.root_fd, target, false), "hardlink target");
    TRY(clear_slot(parent_fd, path.name, false));
    if (linkat(target_parent.get(), target.name.c_str(), parent_fd, path.name.c_str(), 0) == -1)
        return fail_errno("link to " + target.str());
    return {};
}

}  // namespace

EntryAttributes read_attributes(archive_entry* entry) {
    EntryAttributes attrs;
    attrs.uid = static_cast<uid_t>(archive_entry_uid(entry));
    attrs.gid = static_cast<gid_t>(archive_entry_gid(entry));
    attrs.permissions = archive_entry_perm(entry) & 07777;
    attrs.mtime.tv_sec = archive_entry_mtime(entry);
    attrs.mtime.tv_nsec = archive_entry_mtime_is_set(entry) ? archive_entry_mtime_nsec(entry) : 0;
    archive_entry_xattr_reset(entry);
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
        attrs.xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
    return attrs;
}

ErrorOr<void> create_entry(UnpackState& state, archive_entry* entry, const RootedPath& path) {
    const char* hardlink = archive_entry_hardlink(entry);
    auto type = archive_entry_filetype(entry);
    if (path.is_root()) {
        if (hardlink == nullptr && type == AE_IFDIR) return {};  // "./": the root is the caller's
        return fail("names the layer root itself");
    }
    auto parent = TRY(open_parent(state.root_fd, path, true));
    if (hardlink != nullptr) return create_hardlink(state, hardlink, parent.get(), path);

    auto attrs = read_attributes(entry);
    TRY(clear_slot(parent.get(), path.name, type == AE_IFDIR));
    switch (type) {
        case AE_IFREG: return create_regular(state, entry, parent.get(), path.name, attrs);
        case AE_IFDIR: return create_directory(state, parent.get(), path, attrs);
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(entry);
            if (target == nullptr) return fail("symlink without a target");
            // The target is stored as text and never followed here: resolving it is the
            // business of whoever uses the tree, inside the container's root.
            if (symlinkat(target, parent.get(), path.name.c_str()) == -1) return fail_errno("symlink");
            return set_node_attributes(parent.get(), path.name, attrs, true);
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
            dev_t device = makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
            if (mknodat(parent.get(), path.name.c_str(), static_cast<mode_t>(type) | 0600, device) == -1)
                return fail_errno("mknod");
            return set_node_attributes(parent.get(), path.name, attrs, false);
        }
        default: return fail("unsupported entry type " + std::to_string(static_cast<unsigned>(type)));
    }
}

}  // namespace hutch::images
