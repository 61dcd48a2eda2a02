#include "base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>

#include "base/fd.h"

namespace hutch {

ErrorOr<std::string> read_all(int fd) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("read");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

ErrorOr<std::string> read_file_at(int dirfd, const std::string& path) {
    UniqueFd fd(::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open " + path);
    return TRY_CTX(read_all(fd.get()), path);
}

ErrorOr<std::string> read_file(const std::string& path) { return read_file_at(AT_FDCWD, path); }

ErrorOr<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

ErrorOr<void> write_existing_file(const std::string& path, std::string_view data) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open " + path);
    // Kernel interfaces take a value in one write(); a short write is an error there.
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) return fail_errno("write " + path);
    return {};
}

std::string absolute_from_cwd(const std::string& path) {
    if (path.empty() || path.starts_with('/')) return path;
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return path;
    return std::string(cwd) + "/" + path;
}

ErrorOr<void> write_file_atomic(const std::string& path, std::string_view data) {
    return write_file_atomic_at(AT_FDCWD, path, data);
}

ErrorOr<void> write_file_atomic_at(int dirfd, const std::string& path, std::string_view data) {
    std::string tmp = path + ".tmp";
    UniqueFd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("create " + tmp);
    TRY_CTX(write_all(fd.get(), data), tmp);
    if (::renameat(dirfd, tmp.c_str(), dirfd, path.c_str()) != 0)
        return fail_errno("rename " + tmp + " to " + path);
    return {};
}

}  // namespace hutch
