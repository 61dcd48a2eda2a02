#include "cgroups/systemd_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "base/fd.h"
#include "base/file.h"

extern char** environ;

namespace hutch::cgroups {
namespace {

constexpr const char* kHelperName = "hutch-systemd";

// Files rather than pipes: nothing to interleave, no SIGPIPE in hutch-oci if the helper dies
// before reading, and what it writes waits for us however long it is.
ErrorOr<UniqueFd> memory_file(const char* name, std::string_view contents) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd) return fail_errno(std::string("--systemd-cgroup: memfd_create ") + name);
    // Above the standard three (hutch-oci may run with one closed), so that setting up the
    // helper's 0, 1 and 2 cannot overwrite one of these before it is passed on.
    if (fd.get() <= STDERR_FILENO) fd.reset(::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!fd) return fail_errno(std::string("--systemd-cgroup: fcntl ") + name);
    TRY(write_all(fd.get(), contents));
    if (::lseek(fd.get(), 0, SEEK_SET) != 0)
        return fail_errno(std::string("--systemd-cgroup: lseek ") + name);
    return fd;
}

// What the helper wrote into fd (its offset is ours: rewound first).
ErrorOr<std::string> read_back(int fd) {
    if (::lseek(fd, 0, SEEK_SET) != 0) return fail_errno("--systemd-cgroup: lseek");
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("--systemd-cgroup: read the helper's answer");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.substr(text.find_last_of('\n') + 1);
}

// posix_spawn with stdin, stdout and stderr set and every other descriptor closed: the helper
// must hold none of the container's (its sync channel, its lock) open.
ErrorOr<pid_t> spawn(const std::string& path, std::string_view verb, int in, int out, int err) {
    std::string verb_arg(verb);
    std::vector<char*> argv = {const_cast<char*>(path.c_str()), verb_arg.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    pid_t pid = 0;
    int rc = path.find('/') == std::string::npos
                 ? ::posix_spawnp(&pid, path.c_str(), &actions, nullptr, argv.data(), environ)
                 : ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        return fail_errno(
            "--systemd-cgroup: run the helper " + path + " (installed beside hutch-oci by `make install`)",
            rc);
    }
    return pid;
}

// Waits for pid for at most timeout_ms, then kills it; returns its wait status.
int wait_bounded(pid_t pid, unsigned timeout_ms) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd) {
        struct pollfd pfd = {pidfd.get(), POLLIN, 0};
        int rc;
        while ((rc = ::poll(&pfd, 1, static_cast<int>(timeout_ms))) < 0 && errno == EINTR) {
        }
        if (rc == 0) ::kill(pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

}  // namespace

std::string systemd_helper_path() {
    if (const char* env = std::getenv("HUTCH_SYSTEMD_HELPER"); env && *env) return env;
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string beside = std::string(self, static_cast<size_t>(n));
        beside = beside.substr(0, beside.find_last_of('/') + 1) + kHelperName;
        if (::access(beside.c_str(), X_OK) == 0) return beside;
    }
    return kHelperName;
}

ErrorOr<nlohmann::json> run_systemd_helper(std::string_view verb, const systemd::Request& request) {
    UniqueFd in = TRY(memory_file("hutch-systemd-request", systemd::request_to_json(request).dump()));
    UniqueFd out = TRY(memory_file("hutch-systemd-answer", ""));
    UniqueFd err = TRY(memory_file("hutch-systemd-error", ""));
    std::string path = systemd_helper_path();
    pid_t pid = TRY(spawn(path, verb, in.get(), out.get(), err.get()));
    int status = wait_bounded(pid, request.timeout_ms + 10000);
    std::string said = last_line(TRY(read_back(err.get())));
    if (WIFSIGNALED(status)) {
        return fail("--systemd-cgroup: " + path + " " + std::string(verb) + ": killed by signal " +
                    std::to_string(WTERMSIG(status)) +
                    (WTERMSIG(status) == SIGKILL ? " (no answer in time)" : ""));
    }
    if (WEXITSTATUS(status) != 0) {
        if (said.empty())
            said = path + " " + std::string(verb) + ": exit status " + std::to_string(WEXITSTATUS(status));
        return fail(said);
    }
    std::string answer = TRY(read_back(out.get()));
    auto json = nlohmann::json::parse(answer, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return fail("--systemd-cgroup: " + path + " " + std::string(verb) +
                    ": not a JSON answer: " + last_line(answer));
    return json;
}

}  // namespace hutch::cgroups
