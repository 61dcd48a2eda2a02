#include "runtime/foreground.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "base/terminal.h"
#include "runtime/process_end.h"

namespace hutch::runtime {
namespace {

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

void resize_terminal(int master) {
    if (master < 0) return;
    if (auto ws = caller_window_size()) ::ioctl(master, TIOCSWINSZ, &*ws);
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
