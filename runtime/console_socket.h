// --console-socket: how a process's terminal reaches a client that is not its parent (podman's
// conmon, containerd's shim).
#pragma once

#include <string>

#include "base/error.h"

namespace hutch::runtime {

// Hands the pty master to whoever listens on socket_path, as runc does (SCM_RIGHTS).
ErrorOr<void> send_to_console_socket(const std::string& socket_path, int master);

}  // namespace hutch::runtime
