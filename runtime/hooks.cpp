#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file.h"

namespace hutch::runtime {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// The hook's process: stdin from a pipe holding the state, stdout and stderr to another pipe.
[[noreturn]] void exec_hook(const spec::Hook& hook, int stdin_fd, int output_fd) {
    ::dup2(stdin_fd, 0);
    ::dup2(output_fd, 1);
    ::dup2(output_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    auto argv = c_strings(args);
    auto envp = c_strings(hook.env);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    dprintf(2, "exec %s: %s", hook.path.c_str(), strerror(errno));
    _exit(127);
}

// Reads the hook's output until it exits or its timeout passes; kills it on timeout.
ErrorOr<void> wait_for_hook(const spec::Hook& hook, pid_t pid, int output_fd, std::string& output) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) return fail_errno("pidfd_open");
    int timeout_ms = hook.timeout ? *hook.timeout * 1000 : -1;
    // A hook may leave a background process holding the output open: its exit is what counts.
    ::fcntl(output_fd, F_SETFL, O_NONBLOCK);
    auto drain = [&] {
        char buf[1024];
        ssize_t r;
        while ((r = ::read(output_fd, buf, sizeof buf)) > 0)
            if (output.size() < 4096) output.append(buf, static_cast<size_t>(r));
        return r == 0;  // end of file
    };
    bool output_open = true;
    for (;;) {
        struct pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {output_open ? output_fd : -1, POLLIN, 0}};
        int n = ::poll(fds, 2, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return fail("timed out after " + std::to_string(*hook.timeout) + "s");
        }
        if (fds[1].revents && drain()) output_open = false;
        if (fds[0].revents) {
            drain();
            break;
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    for (char& c : output)
        if (c == '\n') c = ' ';
    return fail(how + (output.empty() ? "" : ": " + output));
}

ErrorOr<void> run_hook(const spec::Hook& hook, const std::string& state_json) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd in_read(in[0]), in_write(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd out_read(out[0]), out_write(out[1]);
    // The state is small (well under a pipe's 64 KiB), so it is written before the hook starts.
    TRY(write_all(in_write.get(), state_json));
    in_write.reset();
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) exec_hook(hook, in_read.get(), out_write.get());
    out_write.reset();
    std::string output;
    return wait_for_hook(hook, pid, out_read.get(), output);
}

}  // namespace

ErrorOr<void> run_hooks(const std::string& kind, const std::vector<spec::Hook>& hooks,
                        const std::string& state_json) {
    for (const auto& hook : hooks) TRY_CTX(run_hook(hook, state_json), kind + " hook " + hook.path);
    return {};
}

nlohmann::json hook_to_json(const spec::Hook& hook) {
    nlohmann::json j = {{"path", hook.path}, {"args", hook.args}, {"env", hook.env}};
    if (hook.timeout) j["timeout"] = *hook.timeout;
    return j;
}

spec::Hook hook_from_json(const nlohmann::json& j) {
    spec::Hook h;
    h.path = j.at("path").get<std::string>();
    h.args = j.value("args", std::vector<std::string>{});
    h.env = j.value("env", std::vector<std::string>{});
    if (j.contains("timeout")) h.timeout = j.at("timeout").get<int>();
    return h;
}

}  // namespace hutch::runtime
