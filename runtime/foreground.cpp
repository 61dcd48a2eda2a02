#include "runtime/foreground.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#include "runtime/process_end.h"

namespace hutch::runtime {
namespace {

// Puts the caller's terminal in raw mode for as long as it lives, so that keys reach the
// container's terminal unchanged.
class RawTerminal {
public:
    RawTerminal() {
        if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
        struct termios raw = saved_;
        ::cfmakeraw(&raw);
        active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(0, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    struct termios saved_ = {};
    bool active_ = false;
};

void copy_available(int from, int to, bool& open, const OutputTap& tap = nullptr) {
    char buf[8192];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) {
        open = false;
        return;
    }
    if (tap) tap(std::string_view(buf, static_cast<size_t>(n)));
    for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
        if (w <= 0) break;
        done += w;
    }
}

}  // namespace

// stdin's size, or stdout's when stdin is not the terminal (-t without -i reads /dev/null, yet
// its output still goes to a terminal of that size).
void resize_terminal(int master) {
    struct winsize ws;
    if (master < 0) return;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0 || ::ioctl(1, TIOCGWINSZ, &ws) == 0)
        ::ioctl(master, TIOCSWINSZ, &ws);
}

// Waits for the process while forwarding signals and, if there is a pty, copying
// stdin to it and its output to stdout. Returns the exit status.
int supervise_foreground(int pidfd, int signal_fd, int master, const OutputTap& output_tap) {
    std::optional<RawTerminal> raw;
    if (master >= 0) {
        raw.emplace();
        resize_terminal(master);
    }
    bool stdin_open = master >= 0, master_open = master >= 0;
    for (;;) {
        struct pollfd fds[4] = {{pidfd, POLLIN, 0},
                                {signal_fd, POLLIN, 0},
                                {stdin_open ? 0 : -1, POLLIN, 0},
                                {master_open ? master : -1, POLLIN, 0}};
        if (::poll(fds, 4, -1) < 0 && errno != EINTR) break;
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (::read(signal_fd, &info, sizeof info) == sizeof info) {
                int sig = static_cast<int>(info.ssi_signo);
                if (sig == SIGWINCH && master >= 0)
                    resize_terminal(master);
                else if (is_forwarded_signal(sig))
                    ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
            }
        }
        if (fds[2].revents) copy_available(0, master, stdin_open);
        if (fds[3].revents) copy_available(master, 1, master_open, output_tap);
        // Once the process is gone, the rest of its output is drained before returning.
        if ((fds[0].revents & POLLIN) && !master_open) break;
        if ((fds[0].revents & POLLIN) && !(fds[3].revents & POLLIN)) break;
    }
    return wait_exit_status(pidfd);
}

// Every signal that can be caught is blocked and read from a signalfd, to be forwarded.
ErrorOr<UniqueFd> block_signals() {
    sigset_t all;
    sigfillset(&all);
    if (::sigprocmask(SIG_BLOCK, &all, nullptr) != 0) return fail_errno("sigprocmask");
    UniqueFd fd(::signalfd(-1, &all, SFD_CLOEXEC));
    if (!fd) return fail_errno("signalfd");
    return fd;
}

}  // namespace hutch::runtime
