#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "base/fd.h"
#include "base/log.h"

namespace hutch::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Of a hook's output, what the error message keeps.
constexpr size_t kKeptOutput = 4096;

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// As runc: the hook's `env` when its config has one, even an empty one; without one, the
// environment of the process that runs it (Go's exec gives a nil Env the parent's; crun passes
// environ), which the setting can narrow (the container's process.env, inside the container).
char* const* hook_environment(const spec::Hook& hook, const HookSetting& setting,
                              std::vector<char*>& storage) {
    if (!hook.env && !setting.env) return environ;
    storage = c_strings(hook.env ? *hook.env : *setting.env);
    return storage.data();
}

// A write to a hook that closed its stdin must fail with EPIPE rather than kill, with SIGPIPE,
// the process that runs the hook: hutch-oci, or the container's process for createContainer and
// startContainer hooks. Blocked meanwhile; a SIGPIPE raised meanwhile is taken back.
class SigpipeBlocked {
public:
    SigpipeBlocked() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
        ::sigprocmask(SIG_BLOCK, &pipe_, &previous_);
    }
    ~SigpipeBlocked() {
        struct timespec now = {0, 0};
        if (!was_pending_) ::sigtimedwait(&pipe_, nullptr, &now);
        ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
    }
    SigpipeBlocked(const SigpipeBlocked&) = delete;
    SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

private:
    sigset_t pipe_, previous_;
    bool was_pending_ = false;
};

// The hook's process: stdin from the state's pipe, stdout and stderr to the output pipe, and the
// working directory of the setting. Everything it uses was prepared before the fork.
[[noreturn]] void exec_hook(const char* path, char* const* argv, char* const* envp, const std::string& cwd,
                            int stdin_fd, int output_fd) {
    ::dup2(stdin_fd, 0);
    ::dup2(output_fd, 1);
    ::dup2(output_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
        dprintf(2, "chdir %s: %s", cwd.c_str(), strerror(errno));
        _exit(127);
    }
    ::execve(path, argv, envp);
    dprintf(2, "exec %s: %s", path, strerror(errno));
    _exit(127);
}

// hutch's ends of a running hook's pipes, both non-blocking.
struct HookIo {
    UniqueFd state;           // the hook's stdin: closed once all is written or the hook closed it
    std::string_view unsent;  // what of the state is still to write
    UniqueFd output;          // the hook's stdout and stderr: closed at end of file
    std::string kept;         // the start of the output, for the error message
};

// Writes what the pipe takes now. The hook may stop reading (EPIPE): what it left, it did not want.
void feed(HookIo& io) {
    for (;;) {
        ssize_t n = ::write(io.state.get(), io.unsent.data(), io.unsent.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n > 0) io.unsent.remove_prefix(static_cast<size_t>(n));
        if (n < 0 || io.unsent.empty()) {
            io.state.reset();  // end of file for the hook
            return;
        }
    }
}

// Reads what the output pipe holds now.
void drain(HookIo& io) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(io.output.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return;  // EAGAIN: nothing more for now
        if (n == 0) {
            io.output.reset();
            return;
        }
        io.kept.append(buf,
                       std::min(static_cast<size_t>(n), kKeptOutput - std::min(kKeptOutput, io.kept.size())));
    }
}

// Milliseconds for poll() until the deadline, rounded up so that the wake-up is not early.
int poll_timeout(const std::optional<Clock::time_point>& deadline) {
    if (!deadline) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

ErrorOr<void> kill_hook(pid_t pid, Error error) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::unexpected(std::move(error));
}

std::string how_it_ended(int status, std::string output) {
    std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    std::replace(output.begin(), output.end(), '\n', ' ');
    return how + (output.empty() ? "" : ": " + output);
}

// Feeds the hook the state and reads its output until it exits; kills it when its timeout has
// passed. The timeout is the hook's whole run, however often it writes meanwhile.
ErrorOr<void> wait_for_hook(const spec::Hook& hook, pid_t pid, HookIo& io) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) return kill_hook(pid, Error::from_errno("pidfd_open"));
    std::optional<Clock::time_point> deadline;
    if (hook.timeout) deadline = Clock::now() + std::chrono::seconds(*hook.timeout);
    for (;;) {
        struct pollfd fds[3] = {{pidfd.get(), POLLIN, 0},
                                {io.output ? io.output.get() : -1, POLLIN, 0},
                                {io.state ? io.state.get() : -1, POLLOUT, 0}};
        if (::poll(fds, 3, poll_timeout(deadline)) < 0 && errno != EINTR)
            return kill_hook(pid, Error::from_errno("poll"));
        // A hook that left a background process holding the output open: its exit is what counts.
        if (fds[0].revents) break;
        if (deadline && Clock::now() >= *deadline)
            return kill_hook(pid,
                             Error::with_message("timed out after " + std::to_string(*hook.timeout) + "s"));
        if (fds[2].revents) feed(io);
        if (fds[1].revents) drain(io);
    }
    if (io.output) drain(io);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    return fail(how_it_ended(status, std::move(io.kept)));
}

ErrorOr<void> run_hook(const spec::Hook& hook, const std::string& state_json, const HookSetting& setting) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd stdin_read(in[0]);
    HookIo io{.state = UniqueFd(in[1]), .unsent = state_json, .output = {}, .kept = {}};
    if (::pipe2(out, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd output_write(out[1]);
    io.output.reset(out[0]);
    // The hook's ends block as usual; hutch's do not: the state is written while the hook reads
    // it, since one larger than the pipe's buffer (64 KiB of annotations) would never fit before.
    if (::fcntl(io.state.get(), F_SETFL, O_NONBLOCK) != 0 ||
        ::fcntl(io.output.get(), F_SETFL, O_NONBLOCK) != 0)
        return fail_errno("fcntl");
    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    auto argv = c_strings(args);
    std::vector<char*> env_storage;
    char* const* envp = hook_environment(hook, setting, env_storage);
    SigpipeBlocked sigpipe_blocked;
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0)
        exec_hook(hook.path.c_str(), argv.data(), envp, setting.cwd, stdin_read.get(), output_write.get());
    stdin_read.reset();
    output_write.reset();
    return wait_for_hook(hook, pid, io);
}

}  // namespace

ErrorOr<void> run_hooks(const std::string& kind, const std::vector<spec::Hook>& hooks,
                        const std::string& state_json, const HookSetting& setting) {
    for (const auto& hook : hooks) TRY_CTX(run_hook(hook, state_json, setting), kind + " hook " + hook.path);
    return {};
}

void run_hooks_warning(const std::string& kind, const std::vector<spec::Hook>& hooks,
                       const std::string& state_json, const HookSetting& setting) {
    for (const auto& hook : hooks)
        if (auto ran = run_hook(hook, state_json, setting); !ran)
            log::warn(ran.error().context(kind + " hook " + hook.path).message);
}

// `env` only when the config had one: a hook without it runs with the environment of the
// runtime, one with an empty list with none.
nlohmann::json hook_to_json(const spec::Hook& hook) {
    nlohmann::json j = {{"path", hook.path}, {"args", hook.args}};
    if (hook.env) j["env"] = *hook.env;
    if (hook.timeout) j["timeout"] = *hook.timeout;
    return j;
}

spec::Hook hook_from_json(const nlohmann::json& j) {
    spec::Hook h;
    h.path = j.at("path").get<std::string>();
    h.args = j.value("args", std::vector<std::string>{});
    if (j.contains("env")) h.env = j.at("env").get<std::vector<std::string>>();
    if (j.contains("timeout")) h.timeout = j.at("timeout").get<int>();
    return h;
}

}  // namespace hutch::runtime
