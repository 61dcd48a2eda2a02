#include "base/terminal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

namespace hutch {

ErrorOr<Pty> open_pty() {
    Pty pty;
    pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty.master) return fail_errno("open /dev/ptmx");
    if (::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0) return fail_errno("unlockpt");
    char name[64];
    if (::ptsname_r(pty.master.get(), name, sizeof name) != 0) return fail_errno("ptsname");
    pty.replica_name = name;
    pty.replica.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty.replica) return fail_errno("open " + pty.replica_name);
    return pty;
}

RawTerminal::RawTerminal() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
}

std::optional<winsize> caller_window_size() {
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0 || ::ioctl(1, TIOCGWINSZ, &ws) == 0) return ws;
    return std::nullopt;
}

}  // namespace hutch
