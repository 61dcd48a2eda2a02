// What a process run in the foreground passes on to its caller (hutch-oci's `run` and `exec`, the
// `hutch` command's monitor): which of the caller's signals go on to it, and its exit status.
#pragma once

#include <signal.h>

namespace hutch::runtime {

// The caller's signals that go on to the process: not those about the caller's own children
// (SIGCHLD), its terminal (SIGWINCH: the pty is resized instead) or a pipe it writes to
// (SIGPIPE: its own write failed, not the process's).
bool is_forwarded_signal(int signal);

// The exit status (the shell's: 128+N when killed by signal N).
int exit_status(const siginfo_t& info);

// Waits for the process of pidfd (a child of the caller), through signals, and returns its
// exit status.
int wait_exit_status(int pidfd);

}  // namespace hutch::runtime
