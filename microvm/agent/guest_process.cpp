#include "microvm/agent/guest_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/agent/guest_cgroup.h"
#include "microvm/agent/guest_terminal.h"

namespace hutch::microvm::agent {

namespace {

// With a terminal, stdin_w and stdout_r are the pty's master (two fds of it: stdin_w closes when
// the host's stdin ends, stdout_r at the pty's end), and there is no stderr_r.
struct Child {
    pid_t pid = -1;
    UniqueFd stdin_w, stdout_r, stderr_r;
    bool terminal = false;
};

// In the forked child: reports what failed on err_fd and exits.
[[noreturn]] void child_fail(int err_fd, const std::string& what) {
    std::string message = what + ": " + std::strerror(errno);
    (void)!::write(err_fd, message.data(), message.size());
    ::_exit(127);
}

// The fds a forked child works with: its stdio's ends (or, with a terminal, the pty it opens
// instead), the cgroup it joins, where it reports.
struct ChildFds {
    int in = -1, out = -1, err = -1, cgroup_procs = -1, report = -1;
    const std::string* terminal = nullptr;
};

// The child's stdin, stdout and stderr; and its own session, with the terminal as its
// controlling one.
void set_up_stdio(const GuestConfig& config, const ChildFds& fds) {
    if (fds.terminal) {
        ::setsid();
        if (!attach_terminal(*fds.terminal, config.uid)) child_fail(fds.report, "attach " + *fds.terminal);
        return;
    }
    if (::dup2(fds.in, 0) < 0 || ::dup2(fds.out, 1) < 0 || ::dup2(fds.err, 2) < 0)
        child_fail(fds.report, "dup2");
    ::setsid();
}

// In the forked child: the process's settings, then exec. Every fd it was given is CLOEXEC,
// so only 0, 1 and 2 survive the exec.
[[noreturn]] void exec_child(const GuestConfig& config, const ChildFds& fds) {
    int err_fd = fds.report;
    // First: whatever it does from here on counts against the container's limits.
    if (!join_cgroup(fds.cgroup_procs)) child_fail(err_fd, "join the container's cgroup");
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // PID 1 ignores SIGPIPE; an ignored signal stays ignored across exec.
    ::signal(SIGPIPE, SIG_DFL);
    set_up_stdio(config, fds);
    if (::chdir(config.cwd.c_str()) != 0) child_fail(err_fd, "chdir " + config.cwd);
    // Before setuid: raising a hard limit needs root, which the process may not keep.
    for (const auto& r : config.rlimits) {
        struct rlimit limit {
            .rlim_cur = r.soft, .rlim_max = r.hard
        };
        if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &limit) != 0)
            child_fail(err_fd, "setrlimit " + std::to_string(r.resource));
    }
    if (::setgroups(config.additional_gids.size(), config.additional_gids.data()) != 0)
        child_fail(err_fd, "setgroups");
    if (::setgid(config.gid) != 0) child_fail(err_fd, "setgid " + std::to_string(config.gid));
    if (::setuid(config.uid) != 0) child_fail(err_fd, "setuid " + std::to_string(config.uid));
    std::vector<char*> argv, envp;
    for (const auto& a : config.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : config.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // execvp looks args[0] up in the PATH of environ: the container's, not the agent's.
    environ = envp.data();
    ::execvp(argv[0], argv.data());
    child_fail(err_fd, "exec " + config.args[0]);
}

// Forks and execs; returns once the exec succeeded (or with why it failed).
ErrorOr<pid_t> fork_exec(const GuestConfig& config, ChildFds fds) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd report_r(report[0]), report_w(report[1]);
    fds.report = report_w.get();
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) exec_child(config, fds);
    report_w.reset();
    // End of file on the report pipe: the exec closed it, so it succeeded.
    std::string why = read_all(report_r.get()).value_or("");
    if (!why.empty()) {
        ::waitpid(pid, nullptr, 0);
        return fail(why);
    }
    return pid;
}

ErrorOr<Child> spawn_with_pipes(const GuestConfig& config, int cgroup_procs_fd) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);
    pid_t pid = TRY(fork_exec(
        config, {.in = in_r.get(), .out = out_w.get(), .err = err_w.get(), .cgroup_procs = cgroup_procs_fd}));
    for (int fd : {in_w.get(), out_r.get(), err_r.get()}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    return Child{pid, std::move(in_w), std::move(out_r), std::move(err_r)};
}

ErrorOr<Child> spawn_with_terminal(const GuestConfig& config, int cgroup_procs_fd) {
    auto terminal = TRY_CTX(open_guest_terminal(config.window_size), "terminal");
    UniqueFd input(TRY_SYS(::fcntl(terminal.master.get(), F_DUPFD_CLOEXEC, 0), "dup the pty's master"));
    pid_t pid = TRY(fork_exec(config, {.cgroup_procs = cgroup_procs_fd, .terminal = &terminal.replica}));
    // One file description: non-blocking for both fds.
    ::fcntl(input.get(), F_SETFL, O_NONBLOCK);
    return Child{pid, std::move(input), std::move(terminal.master), UniqueFd(), true};
}

ErrorOr<Child> spawn(const GuestConfig& config, int cgroup_procs_fd) {
    return config.terminal ? spawn_with_terminal(config, cgroup_procs_fd)
                           : spawn_with_pipes(config, cgroup_procs_fd);
}

int status_of(int wait_status) {
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return WEXITSTATUS(wait_status);
}

// The poll loop: one object, so that each event is a short method.
class Relay {
public:
    Relay(Child child, int control, int stdin_port, int sigchld, FrameReader& reader)
        : child_(std::move(child)),
          control_(control),
          stdin_port_(stdin_port),
          sigchld_(sigchld),
          reader_(reader) {}

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
        pollfd fds[] = {
            {host_gone_ ? -1 : control_, control_events, 0},
            {want_stdin ? stdin_port_ : -1, POLLIN, 0},
            {stdin_pending_.empty() ? -1 : child_.stdin_w.get(), POLLOUT, 0},
            {want_output ? child_.stdout_r.get() : -1, POLLIN, 0},
            {want_output ? child_.stderr_r.get() : -1, POLLIN, 0},
            {sigchld_, POLLIN, 0},
        };
        if (::poll(fds, std::size(fds), -1) < 0) {
            if (errno == EINTR) return {};
            return fail_errno("poll");
        }
        if (fds[0].revents & POLLOUT) TRY(write_control());
        if (fds[0].revents & ~POLLOUT) TRY(read_control());
        if (fds[1].revents) read_stdin_port();
        if (fds[2].revents) write_stdin();
        if (fds[3].revents) TRY(forward_output(child_.stdout_r, FrameKind::stdout_data));
        if (fds[4].revents) TRY(forward_output(child_.stderr_r, FrameKind::stderr_data));
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

    // One read of the pipe, as a frame for the host; closes the pipe at its end. Once the
    // process is gone (control_ blocking again), the frame is written at once. True when it read
    // something (more may follow).
    ErrorOr<bool> forward_output(UniqueFd& pipe, FrameKind kind) {
        if (!pipe) return false;
        char buf[65536];
        ssize_t n = ::read(pipe.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) return true;
        if (n < 0 && errno == EAGAIN) return false;
        if (n <= 0) {
            pipe.reset();
            return false;
        }
        if (host_gone_) return true;
        control_pending_ += encode_frame(kind, {buf, static_cast<size_t>(n)});
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
        while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0)
            if (pid == child_.pid) exit_status_ = status_of(wait_status);
    }

    Child child_;
    int control_, stdin_port_, sigchld_;
    FrameReader& reader_;
    std::string stdin_pending_, control_pending_;
    bool host_gone_ = false;
    int exit_status_ = -1;
};

}  // namespace

ErrorOr<int> run_process(const GuestConfig& config, int cgroup_procs_fd, int control_fd, int stdin_port_fd,
                         FrameReader& reader) {
    // SIGCHLD through a signalfd, blocked before the fork so that no exit goes unseen.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &chld, nullptr) != 0) return fail_errno("block SIGCHLD");
    UniqueFd sigchld(TRY_SYS(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd"));
    ::signal(SIGPIPE, SIG_IGN);
    if (!config.hostname.empty() && ::sethostname(config.hostname.data(), config.hostname.size()) != 0)
        return fail_errno("sethostname " + config.hostname);
    Child child = TRY(spawn(config, cgroup_procs_fd));
    TRY(write_all(control_fd, encode_frame(FrameKind::started, "")));
    return Relay(std::move(child), control_fd, stdin_port_fd, sigchld.get(), reader).run();
}

}  // namespace hutch::microvm::agent
