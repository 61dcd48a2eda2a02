#include "microvm/agent/guest_terminal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace hutch::microvm::agent {

// posix_openpt rather than openpty: openpty is libutil's, which the static agent does not link.
ErrorOr<GuestTerminal> open_guest_terminal(WindowSize size) {
    GuestTerminal terminal;
    terminal.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!terminal.master) return fail_errno("open a pty (/dev/ptmx)");
    if (::grantpt(terminal.master.get()) != 0) return fail_errno("grantpt");
    if (::unlockpt(terminal.master.get()) != 0) return fail_errno("unlockpt");
    char name[64];
    if (::ptsname_r(terminal.master.get(), name, sizeof name) != 0) return fail_errno("ptsname");
    terminal.replica = name;
    set_window_size(terminal.master.get(), size);
    return terminal;
}

void set_window_size(int master, WindowSize size) {
    // A size of 0x0 is the kernel's own "unknown": the caller had no terminal to measure.
    winsize ws{.ws_row = size.rows, .ws_col = size.cols, .ws_xpixel = 0, .ws_ypixel = 0};
    ::ioctl(master, TIOCSWINSZ, &ws);
}

bool attach_terminal(const std::string& replica, uid_t uid) {
    int fd = ::open(replica.c_str(), O_RDWR);
    if (fd < 0) return false;
    if (::ioctl(fd, TIOCSCTTY, 0) != 0 || ::fchown(fd, uid, static_cast<gid_t>(-1)) != 0) return false;
    for (int target : {0, 1, 2})
        if (::dup2(fd, target) < 0) return false;
    if (fd > 2) ::close(fd);
    return true;
}

}  // namespace hutch::microvm::agent
