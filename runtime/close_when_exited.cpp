#include "runtime/close_when_exited.h"

#include <errno.h>
#include <poll.h>

namespace hutch::runtime {

// A plain pthread that neither allocates nor frees: glibc gives it no malloc arena.
void* CloseWhenExited::run(void* self) {
    auto* closer = static_cast<CloseWhenExited*>(self);
    struct pollfd exited = {closer->pidfd_, POLLIN, 0};
    while (::poll(&exited, 1, -1) < 0 && errno == EINTR) {
    }
    closer->fd_.reset();
    return nullptr;
}

CloseWhenExited::CloseWhenExited(UniqueFd fd, int pidfd) : fd_(std::move(fd)), pidfd_(pidfd) {
    if (!fd_) return;
    if (::pthread_create(&thread_, nullptr, &CloseWhenExited::run, this) != 0) {
        fd_.reset();
        return;
    }
    started_ = true;
}

CloseWhenExited::~CloseWhenExited() {
    if (started_) ::pthread_join(thread_, nullptr);
}

}  // namespace hutch::runtime
