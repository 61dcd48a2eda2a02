#include "base/directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace hutch {
namespace {

struct CloseDir {
    void operator()(DIR* dir) const { ::closedir(dir); }
};

// Reads the directory open as fd (which this takes over) to its end.
ErrorOr<std::vector<DirectoryEntry>> read_entries(int fd) {
    std::unique_ptr<DIR, CloseDir> dir(::fdopendir(fd));
    if (!dir) {
        int err = errno;
        ::close(fd);
        return fail_errno("opendir", err);
    }
    std::vector<DirectoryEntry> entries;
    errno = 0;
    while (dirent* entry = ::readdir(dir.get())) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") entries.push_back({std::move(name), entry->d_type});
        errno = 0;
    }
    if (errno != 0) return fail_errno("readdir");
    return entries;
}

}  // namespace

ErrorOr<std::vector<DirectoryEntry>> list_directory_at(int dir_fd) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) return fail_errno("open directory");
    return read_entries(fd);
}

ErrorOr<std::vector<DirectoryEntry>> list_directory(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + path);
    return TRY_CTX(read_entries(fd), path);
}

}  // namespace hutch
