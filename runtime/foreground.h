// A process run in the foreground (`run` and `exec` without --detach): the caller's signals are
// forwarded to it, its terminal is joined to the caller's, and its exit status is passed through.
#pragma once

#include <functional>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::runtime {

// Blocks every signal that can be caught and returns a signalfd that reads them, to be forwarded.
// Called before the clone, so that none is lost; the child unblocks them for itself.
ErrorOr<UniqueFd> block_signals();

// Gives the pty of master the caller's terminal size, when the caller has a terminal.
void resize_terminal(int master);

// Receives a copy of the terminal's output: the `hutch` command logs it.
using OutputTap = std::function<void(std::string_view)>;

// Waits for the process of pidfd while forwarding signals and, with a pty master (>= 0), copying
// stdin to it (in raw mode) and its output to stdout (and to output_tap). Returns the exit
// status: 128+N when killed by signal N.
int supervise_foreground(int pidfd, int signal_fd, int master, const OutputTap& output_tap = nullptr);

}  // namespace hutch::runtime
