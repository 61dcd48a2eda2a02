// The command's stdio (stdio.h).
#include "cli/hutch/stdio.h"

#include <fcntl.h>
#include <unistd.h>

namespace hutch::cli {

ErrorOr<void> StdioSwap::put(int target, int fd) {
    saved_.push_back({target, UniqueFd(::fcntl(target, F_DUPFD_CLOEXEC, 3))});
    if (::dup2(fd, target) == -1) return fail_errno("dup2");
    return {};
}

void StdioSwap::restore() {
    for (auto& [target, saved] : saved_) {
        if (saved) ::dup2(saved.get(), target);
    }
    saved_.clear();
}

ErrorOr<void> stdin_from_null() {
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null || ::dup2(null.get(), 0) == -1) return fail_errno("/dev/null");
    return {};
}

void stdio_to_null() {
    int null = ::open("/dev/null", O_RDWR);
    if (null < 0) return;
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    if (null > 2) ::close(null);
}

}  // namespace hutch::cli
