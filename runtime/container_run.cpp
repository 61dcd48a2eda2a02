// `run`: create and start; in the foreground, forward signals and the terminal, wait, pass the
// exit status through and delete the container, as `runc run` does.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/log.h"
#include "runtime/close_when_exited.h"
#include "runtime/create_internal.h"

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

void copy_available(int from, int to, bool& open) {
    char buf[8192];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) {
        open = false;
        return;
    }
    for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
        if (w <= 0) break;
        done += w;
    }
}

void resize_terminal(int master) {
    struct winsize ws;
    if (master >= 0 && ::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
}

// Waits for the container's process while forwarding signals and, if there is a pty, copying
// stdin to it and its output to stdout. Returns the exit status.
int supervise(int pidfd, int signal_fd, int master) {
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
                else if (sig != SIGCHLD)
                    ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
            }
        }
        if (fds[2].revents) copy_available(0, master, stdin_open);
        if (fds[3].revents) copy_available(master, 1, master_open);
        // Once the process is gone, the rest of its output is drained before returning.
        if ((fds[0].revents & POLLIN) && !master_open) break;
        if ((fds[0].revents & POLLIN) && !(fds[3].revents & POLLIN)) break;
    }
    siginfo_t info = {};
    ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED);
    if (info.si_code == CLD_EXITED) return info.si_status;
    return 128 + info.si_status;
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

// The process is still waiting for start, so its pid is still its own.
UniqueFd open_mount_namespace(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

}  // namespace

ErrorOr<int> run(const CreateOptions& options, bool detach) {
    UniqueFd signal_fd;
    // Blocked before the clone so that no signal is lost; the child unblocks them for itself.
    if (!detach) signal_fd = TRY(block_signals());
    auto created = TRY(create_container(options, {.keep_terminal = !detach, .start_on_channel = true}));
    Container& container = *created.container;
    // Held so that the exit of the container's last process does not unmount everything in its
    // mount namespace before `run` hears of it: that happens below, beside the delete.
    UniqueFd mount_ns;
    if (!detach) mount_ns = open_mount_namespace(created.launched.pid);
    auto started = start_created(container, created.launched);
    if (!started) {
        (void)destroy_container(container);
        return std::unexpected(started.error());
    }
    log::debug("run: started");
    if (detach) return 0;
    int pidfd = created.launched.pidfd.get();
    CloseWhenExited unmount_all(std::move(mount_ns), pidfd);
    container.unlock();
    int status = supervise(pidfd, signal_fd.get(),
                           created.launched.pty_master ? created.launched.pty_master.get() : -1);
    log::debug("run: the process exited");
    // Deleted like runc's run does, unless another command removed it meanwhile.
    auto ours = container.relock();
    if (!ours) log::error(ours.error().message);
    if (ours && *ours) {
        auto destroyed = destroy_container(container);
        if (!destroyed) log::error(destroyed.error().message);
    }
    log::debug("run: deleted");
    return status;
}

}  // namespace hutch::runtime
