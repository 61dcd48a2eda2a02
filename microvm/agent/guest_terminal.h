// The process's terminal in the guest (run -t): a pty from the container's own devpts
// (guest_rootfs.cpp mounts it at /dev/pts), its master kept by the agent, which relays it.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

struct GuestTerminal {
    UniqueFd master;      // CLOEXEC
    std::string replica;  // /dev/pts/N: the process's end, opened by the process itself
};

// A new pty of size, in the current root.
ErrorOr<GuestTerminal> open_guest_terminal(WindowSize size);

// TIOCSWINSZ on master: the process gets SIGWINCH.
void set_window_size(int master, WindowSize size);

// In the forked child, after setsid(): replica becomes its controlling terminal and its stdin,
// stdout and stderr, owned by uid (as runc gives it, so that a process that is not root can
// still chmod it, as `mesg` does). Returns false with errno set on failure.
bool attach_terminal(const std::string& replica, uid_t uid);

}  // namespace hutch::microvm::agent
