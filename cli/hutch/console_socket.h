// Where the runtime hands over the pty master of a container with a terminal (runc's
// --console-socket, as conmon receives it): a listening unix socket in a directory of its own,
// both removed when this goes out of scope.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::cli {

class ConsoleSocket {
public:
    static ErrorOr<ConsoleSocket> listen();
    ConsoleSocket(ConsoleSocket&& other) noexcept
        : dir_(std::exchange(other.dir_, std::string())), fd_(std::move(other.fd_)) {}
    ConsoleSocket& operator=(ConsoleSocket&&) = delete;
    ~ConsoleSocket();

    std::string path() const { return dir_ + "/console.sock"; }
    // Takes the master the runtime sent (it connects during create and does not wait for us).
    ErrorOr<UniqueFd> receive_master();

private:
    explicit ConsoleSocket(std::string dir) : dir_(std::move(dir)) {}
    std::string dir_;
    UniqueFd fd_;
};

}  // namespace hutch::cli
