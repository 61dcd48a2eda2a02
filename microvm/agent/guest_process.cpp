#include "microvm/agent/guest_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/agent/guest_cgroup_requests.h"
#include "microvm/agent/guest_execs.h"
#include "microvm/agent/guest_namespaces.h"
#include "microvm/agent/guest_spawn.h"
#include "microvm/agent/guest_terminal.h"

namespace hutch::microvm::agent {

namespace {

// The poll loop: one object, so that each event is a short method.
class Relay {
public:
    Relay(Child child, int control, int stdin_port, int sigchld, const Placement& execs,
          const ContainerCgroup& cgroup, FrameReader& reader)
        : child_(std::move(child)),
          control_(control),
          stdin_port_(stdin_port),
          sigchld_(sigchld),
          cgroup_(cgroup),
          reader_(reader),
          execs_(execs) {}

    ErrorOr<int> run() {
        // Non-blocking while the process runs, so that a host not taking output (its caller not
        // reading stdout) cannot keep the agent from reading the host's signals.
        ::fcntl(control_, F_SETFL, ::fcntl(control_, F_GETFL) | O_NONBLOCK);
        while (exit_status_ < 0) TRY(step());
        ::fcntl(control_, F_SETFL, ::fcntl(control_, F_GETFL) & ~O_NONBLOCK);
        // The process is gone: what it wrote is all in the pipes (unless it left children
        // holding them, which die with the VM). Blocking writes from here: nothing else waits.
        while (TRY(forward_output(child_.stdout_r, FrameKind::stdout_data))) {
        }
        while (TRY(forward_output(child_.stderr_r, FrameKind::stderr_data))) {
        }
        if (!host_gone_) TRY(write_all(control_, control_pending_));
        return exit_status_;
    }

private:
    ErrorOr<void> step() {
        bool want_stdin = stdin_port_ >= 0 && child_.stdin_w && stdin_pending_.empty();
        // The process's output waits in its pipes while a frame waits for the host.
        bool want_output = control_pending_.empty();
        short control_events = POLLIN | (control_pending_.empty() ? 0 : POLLOUT);
        std::vector<pollfd> fds = {
            {host_gone_ ? -1 : control_, control_events, 0},
            {want_stdin ? stdin_port_ : -1, POLLIN, 0},
            {stdin_pending_.empty() ? -1 : child_.stdin_w.get(), POLLOUT, 0},
            {want_output ? child_.stdout_r.get() : -1, POLLIN, 0},
            {want_output ? child_.stderr_r.get() : -1, POLLIN, 0},
            {sigchld_, POLLIN, 0},
        };
        size_t first_exec = fds.size();
        execs_.add_poll_fds(fds, want_output);
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) return {};
            return fail_errno("poll");
        }
        if (fds[0].revents & POLLOUT) TRY(write_control());
        if (fds[0].revents & ~POLLOUT) TRY(read_control());
        if (fds[1].revents) read_stdin_port();
        if (fds[2].revents) write_stdin();
        if (fds[3].revents) TRY(forward_output(child_.stdout_r, FrameKind::stdout_data));
        if (fds[4].revents) TRY(forward_output(child_.stderr_r, FrameKind::stderr_data));
        execs_.on_events(fds, first_exec, control_pending_);
        if (fds[5].revents) reap();
        return {};
    }

    ErrorOr<void> read_control() {
        char buf[4096];
        ssize_t n = ::read(control_, buf, sizeof buf);
        if (n < 0)
            return errno == EINTR || errno == EAGAIN ? ErrorOr<void>{} : fail_errno("read the control port");
        if (n == 0) {
            // The host is gone (hutch died): nobody waits for the process any more.
            host_gone_ = true;
            ::kill(child_.pid, SIGKILL);
            return {};
        }
        reader_.feed({buf, static_cast<size_t>(n)});
        while (auto frame = TRY(reader_.next())) TRY(handle(*frame));
        return {};
    }

    ErrorOr<void> handle(const Frame& frame) {
        if (is_cgroup_request(frame.kind)) {
            control_pending_ += TRY(answer_cgroup_request(cgroup_, frame));
            return {};
        }
        if (is_host_exec_frame(frame.kind)) return execs_.handle(frame, control_pending_);
        if (frame.kind == FrameKind::signal) {
            int sig = TRY(parse_int_payload(frame.payload));
            if (sig > 0 && sig < NSIG) ::kill(child_.pid, sig);
        } else if (frame.kind == FrameKind::window_size && child_.terminal && child_.stdout_r) {
            set_window_size(child_.stdout_r.get(), TRY(parse_window_size_payload(frame.payload)));
        }
        return {};
    }

    void read_stdin_port() {
        char buf[65536];
        ssize_t n = ::read(stdin_port_, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
        if (n <= 0) {
            // The host closed stdin: so does the process's.
            stdin_port_ = -1;
            child_.stdin_w.reset();
            return;
        }
        stdin_pending_.assign(buf, static_cast<size_t>(n));
    }

    void write_stdin() {
        ssize_t n = ::write(child_.stdin_w.get(), stdin_pending_.data(), stdin_pending_.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
        if (n < 0) {
            // The process closed its stdin: the rest has nowhere to go.
            stdin_pending_.clear();
            stdin_port_ = -1;
            child_.stdin_w.reset();
            return;
        }
        stdin_pending_.erase(0, static_cast<size_t>(n));
    }

    // One read of the pipe, as a frame for the host. Once the process is gone (control_ blocking
    // again), the frame is written at once. True when it read something (more may follow).
    ErrorOr<bool> forward_output(UniqueFd& pipe, FrameKind kind) {
        auto bytes = read_output(pipe);
        if (!bytes) return false;
        if (host_gone_) return true;
        control_pending_ += encode_frame(kind, *bytes);
        if (exit_status_ >= 0) {
            TRY(write_all(control_, control_pending_));
            control_pending_.clear();
        }
        return true;
    }

    // As much of the pending frames as the port takes now.
    ErrorOr<void> write_control() {
        ssize_t n = ::write(control_, control_pending_.data(), control_pending_.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return {};
        if (n < 0) return fail_errno("write the control port");
        control_pending_.erase(0, static_cast<size_t>(n));
        return {};
    }

    // PID 1 reaps every orphan; only the process's own status matters.
    void reap() {
        signalfd_siginfo info;
        while (::read(sigchld_, &info, sizeof info) > 0) {
        }
        int wait_status = 0;
        pid_t pid;
        while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0) {
            if (pid == child_.pid)
                exit_status_ = status_of(wait_status);
            else
                execs_.reaped(pid, wait_status, control_pending_);
        }
    }

    Child child_;
    int control_, stdin_port_, sigchld_;
    const ContainerCgroup& cgroup_;
    FrameReader& reader_;
    std::string stdin_pending_, control_pending_;
    bool host_gone_ = false;
    int exit_status_ = -1;
    Execs execs_;
};

}  // namespace

ErrorOr<int> run_process(const GuestConfig& config, const ContainerCgroup& cgroup, int control_fd,
                         int stdin_port_fd, FrameReader& reader) {
    // SIGCHLD through a signalfd, blocked before the fork so that no exit goes unseen.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &chld, nullptr) != 0) return fail_errno("block SIGCHLD");
    UniqueFd sigchld(TRY_SYS(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd"));
    ::signal(SIGPIPE, SIG_IGN);
    if (!config.hostname.empty() && ::sethostname(config.hostname.data(), config.hostname.size()) != 0)
        return fail_errno("sethostname " + config.hostname);
    Placement placement{.cgroup_procs_fd = cgroup.procs.get(), .namespaces = config.namespaces};
    Child child = TRY(spawn(config, placement));
    TRY(write_all(control_fd, encode_frame(FrameKind::started, "")));
    placement.first_process = child.pid;
    return Relay(std::move(child), control_fd, stdin_port_fd, sigchld.get(), placement, cgroup, reader).run();
}

}  // namespace hutch::microvm::agent
