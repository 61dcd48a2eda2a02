// `ps`: the container's processes, as pids or as the host's ps(1) shows them; which processes
// they are is the backend's.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file.h"
#include "base/json.h"
#include "runtime/backend.h"
#include "runtime/ps_table.h"
#include "runtime/runtime.h"

extern char** environ;

namespace hutch::runtime {
namespace {

// The first line of text, for a one-line error.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Runs `ps ARGS...` from PATH and returns what it wrote to stdout and stderr together.
ErrorOr<std::string> run_ps(const std::vector<std::string>& args) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_errno("ps: pipe");
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    std::vector<char*> argv = {const_cast<char*>("ps")};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, "ps", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return fail_errno("ps: run ps", rc);
    write_end.reset();  // or the read below would never see the end
    std::string output = read_all(read_end.get()).value_or("");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                            : "killed by signal " + std::to_string(WTERMSIG(status));
        return fail("ps: " + how + ": " + first_line(output));
    }
    return output;
}

}  // namespace

ErrorOr<std::string> host_ps_table(const std::vector<pid_t>& pids, const std::vector<std::string>& ps_args) {
    std::string output = TRY(run_ps(ps_args.empty() ? std::vector<std::string>{"-ef"} : ps_args));
    return filter_ps_table(output, pids);
}

ErrorOr<std::string> ps(const std::string& root, const std::string& id, const PsOptions& options) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    // A paused container's processes are there to list, as in runc.
    if (status != Status::created && status != Status::running && status != Status::paused)
        return fail("cannot list the processes of container " + id + ": container not running");
    const Backend& backend = backend_of(container.state);
    std::vector<pid_t> pids = TRY_CTX(backend.processes(container, status), "ps " + id);
    if (options.json) return json_text(nlohmann::json(pids)) + "\n";
    return backend.process_table(pids, options.ps_args);
}

}  // namespace hutch::runtime
