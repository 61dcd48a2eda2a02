// The caller's terminal, for a process given a terminal of its own (`run -t`, on the host or in a
// microVM): raw mode while it runs, and the size to give that terminal.
#pragma once

#include <sys/ioctl.h>
#include <termios.h>

#include <optional>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace hutch {

// A new pty: both ends open, O_NOCTTY and CLOEXEC (the replica becomes a controlling terminal
// only where TIOCSCTTY says so).
struct Pty {
    UniqueFd master, replica;
    std::string replica_name;  // /dev/pts/N
};
ErrorOr<Pty> open_pty();

// Puts the caller's terminal (stdin) in raw mode for as long as it lives, so that keys reach the
// process's terminal unchanged; restores it however the scope ends. Nothing when stdin is not a
// terminal.
class RawTerminal {
public:
    RawTerminal();
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    struct termios saved_ = {};
    bool active_ = false;
};

// stdin's size, or stdout's when stdin is not the terminal (-t without -i reads /dev/null, yet
// its output still goes to a terminal of that size); nothing when neither is a terminal.
std::optional<winsize> caller_window_size();

}  // namespace hutch
