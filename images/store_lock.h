// The flock that serialises changes to a store root (ROOT/lock): the content store takes it while
// blobs/ changes or is read, the image store while images.json does. Internal to images/.
#pragma once

#include <string>
#include <utility>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::images {

// Opens (creating when missing) ROOT/lock below the root's directory fd.
ErrorOr<UniqueFd> open_store_lock(int root_fd, const std::string& root);

// Holds an flock on the store's lock file for as long as it lives.
class StoreLock {
public:
    // operation: LOCK_SH or LOCK_EX; waits for the lock (retrying EINTR).
    static ErrorOr<StoreLock> take(int fd, int operation, const std::string& root);
    StoreLock(StoreLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    StoreLock& operator=(StoreLock&&) = delete;
    ~StoreLock();

private:
    explicit StoreLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace hutch::images
