// Handing an fd to a process that is not hutch's child, over a unix socket it listens on: the
// terminal to --console-socket (podman's conmon, containerd's shim), a seccomp listener fd to
// linux.seccomp.listenerPath (a seccomp agent).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::runtime {

// Connects to socket_path and sends payload with fd attached (SCM_RIGHTS). Errors start with what.
ErrorOr<void> send_fd_over_socket(const std::string& socket_path, std::string_view payload, int fd,
                                  const std::string& what);

// The pty master to --console-socket, as runc sends it (the payload names /dev/ptmx).
ErrorOr<void> send_to_console_socket(const std::string& socket_path, int master);

}  // namespace hutch::runtime
