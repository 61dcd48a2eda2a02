#include "images/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace hutch::images {

ErrorOr<UniqueFd> open_store_lock(int root_fd, const std::string& root) {
    int lock = openat(root_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock == -1) return fail_errno("open " + root + "/lock");
    return UniqueFd(lock);
}

ErrorOr<StoreLock> StoreLock::take(int fd, int operation, const std::string& root) {
    while (flock(fd, operation) == -1) {
        if (errno != EINTR) return fail_errno(root + "/lock: flock");
    }
    return StoreLock(fd);
}

StoreLock::~StoreLock() {
    if (fd_ >= 0) flock(fd_, LOCK_UN);
}

}  // namespace hutch::images
