#include "images/in_progress.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "base/fd.h"

namespace hutch::images {

ErrorOr<void> lock_in_progress(int fd, const std::string& shown) {
    // Nobody else can hold it: the name is new, and the collector waits for the store's lock.
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) return fail_errno("lock " + shown);
    return {};
}

ErrorOr<bool> is_abandoned(int dirfd, const std::string& name, const std::string& shown) {
    UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return errno == ENOENT ? ErrorOr<bool>(false) : fail_errno("open " + shown);
    if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return true;  // released when fd closes
    if (errno == EWOULDBLOCK) return false;
    return fail_errno("lock " + shown);
}

}  // namespace hutch::images
