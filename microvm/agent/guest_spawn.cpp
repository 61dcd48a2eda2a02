#include "microvm/agent/guest_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "base/file.h"
#include "microvm/agent/guest_cgroup.h"
#include "microvm/agent/guest_namespaces.h"
#include "microvm/agent/guest_security.h"
#include "microvm/agent/guest_terminal.h"

namespace hutch::microvm::agent {

namespace {

// In the forked child: reports what failed on err_fd and exits.
[[noreturn]] void child_fail(int err_fd, const std::string& what) {
    std::string message = what + ": " + std::strerror(errno);
    (void)!::write(err_fd, message.data(), message.size());
    ::_exit(127);
}

// In the forked child: reports an error that says what failed already, and exits.
[[noreturn]] void child_fail_with(int err_fd, const Error& error) {
    (void)!::write(err_fd, error.message.data(), error.message.size());
    ::_exit(127);
}

// What a forked child works with: its stdio's ends (or, with a terminal, the pty it opens
// instead), the cgroup it joins, the namespaces it makes or joins, where it reports.
struct ChildFds {
    int in = -1, out = -1, err = -1, cgroup_procs = -1, report = -1;
    const std::string* terminal = nullptr;
    unsigned long new_namespaces = 0;
    const NamespacesToJoin* join = nullptr;
};

// In the forked child, in the container's cgroup: its namespaces.
ErrorOr<void> enter_namespaces(const ChildFds& fds) {
    if (fds.join) return fds.join->join();
    return make_new_namespaces(fds.new_namespaces);
}

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
    if (auto entered = enter_namespaces(fds); !entered) child_fail_with(err_fd, entered.error());
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
    if (auto restricted = restrict_while_root(config.security); !restricted)
        child_fail_with(err_fd, restricted.error());
    if (auto switched = switch_to_user(config); !switched) child_fail_with(err_fd, switched.error());
    if (auto restricted = restrict_before_exec(config.security); !restricted)
        child_fail_with(err_fd, restricted.error());
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
    // The first process is cloned into its new namespaces; an exec is forked into the container's
    // pid namespace, and joins the others itself.
    std::optional<NamespacesToJoin::PidForChildren> pid_namespace;
    if (fds.join) pid_namespace.emplace(TRY(fds.join->enter_pid_for_children()));
    pid_t pid = fds.join ? ::fork() : clone_into_namespaces(fds.new_namespaces);
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) exec_child(config, fds);  // never returns: the guard is the agent's alone
    pid_namespace.reset();
    report_w.reset();
    // End of file on the report pipe: the exec closed it, so it succeeded.
    std::string why = read_all(report_r.get()).value_or("");
    if (!why.empty()) {
        ::waitpid(pid, nullptr, 0);
        return fail(why);
    }
    return pid;
}

ErrorOr<Child> spawn_with_pipes(const GuestConfig& config, ChildFds fds) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);
    fds.in = in_r.get();
    fds.out = out_w.get();
    fds.err = err_w.get();
    pid_t pid = TRY(fork_exec(config, fds));
    for (int fd : {in_w.get(), out_r.get(), err_r.get()}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    return Child{pid, std::move(in_w), std::move(out_r), std::move(err_r)};
}

ErrorOr<Child> spawn_with_terminal(const GuestConfig& config, ChildFds fds) {
    auto terminal = TRY_CTX(open_guest_terminal(config.window_size), "terminal");
    UniqueFd input(TRY_SYS(::fcntl(terminal.master.get(), F_DUPFD_CLOEXEC, 0), "dup the pty's master"));
    fds.terminal = &terminal.replica;
    pid_t pid = TRY(fork_exec(config, fds));
    // One file description: non-blocking for both fds.
    ::fcntl(input.get(), F_SETFL, O_NONBLOCK);
    return Child{pid, std::move(input), std::move(terminal.master), UniqueFd(), true};
}

}  // namespace

ErrorOr<Child> spawn(const GuestConfig& config, const Placement& placement) {
    std::optional<NamespacesToJoin> join;
    if (placement.first_process)
        join = TRY_CTX(NamespacesToJoin::open(placement.first_process, placement.namespaces), "namespaces");
    ChildFds fds{.cgroup_procs = placement.cgroup_procs_fd,
                 .new_namespaces = placement.first_process ? 0 : placement.namespaces,
                 .join = join ? &*join : nullptr};
    return config.terminal ? spawn_with_terminal(config, fds) : spawn_with_pipes(config, fds);
}

int status_of(int wait_status) {
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return WEXITSTATUS(wait_status);
}

}  // namespace hutch::microvm::agent
