// tmpcopyup's copy: a directory's content, file by file, into another directory (the new tmpfs),
// each entry opened relative to its parent's fd and never followed through a symlink.
#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <string_view>

#include "base/directory.h"
#include "namespaces/mounting.h"

namespace hutch::rootfs {

namespace {

ErrorOr<void> copy_file_data(int src_dir, int dst_dir, const char* name, const struct stat& st) {
    UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return fail_errno(std::string("open ") + name);
    UniqueFd out(
        ::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
    if (!out) return fail_errno(std::string("create ") + name);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = ::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(left));
        if (n < 0) return fail_errno(std::string("copy ") + name);
        if (n == 0) break;
        left -= n;
    }
    return {};
}

ErrorOr<void> copy_entry(int src_dir, int dst_dir, const char* name) {
    struct stat st {};
    if (::fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(std::string("stat ") + name);
    if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(dst_dir, name, st.st_mode & 07777) != 0)
            return fail_errno(std::string("mkdir ") + name);
        UniqueFd src(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd dst(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!src || !dst) return fail_errno(std::string("open ") + name);
        TRY(copy_tree(src.get(), dst.get()));
    } else if (S_ISREG(st.st_mode)) {
        TRY(copy_file_data(src_dir, dst_dir, name, st));
    } else if (S_ISLNK(st.st_mode)) {
        std::array<char, 4096> target{};
        ssize_t n = ::readlinkat(src_dir, name, target.data(), target.size() - 1);
        if (n < 0 || ::symlinkat(target.data(), dst_dir, name) != 0)
            return fail_errno(std::string("symlink ") + name);
    } else if (::mknodat(dst_dir, name, st.st_mode, st.st_rdev) != 0) {
        return fail_errno(std::string("mknod ") + name);
    }
    if (::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(std::string("chown ") + name);
    // mkdirat and openat applied the umask; the copy must have the original mode.
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0)
        return fail_errno(std::string("chmod ") + name);
    return {};
}

}  // namespace

ErrorOr<void> copy_tree(int src_dir, int dst_dir) {
    for (const auto& [name, type] : TRY(list_directory_at(src_dir)))
        TRY(copy_entry(src_dir, dst_dir, name.c_str()));
    return {};
}

}  // namespace hutch::rootfs
