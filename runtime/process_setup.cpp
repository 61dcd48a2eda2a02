#include "runtime/process_setup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <sstream>
#include <vector>

#include "base/file.h"
#include "base/terminal.h"
#include "runtime/kernel_attributes.h"

namespace hutch::runtime {
namespace {

// NAME's value in env, or nullopt when env has no NAME= entry (an empty value is a value).
std::optional<std::string> env_value(const std::vector<std::string>& env, const std::string& name) {
    for (const auto& entry : env)
        if (entry.compare(0, name.size() + 1, name + "=") == 0) return entry.substr(name.size() + 1);
    return std::nullopt;
}

// The container's /etc/passwd, if it is a regular file of sane size: the image chooses what it
// is, and a FIFO or a link to /dev/zero must not hang or fill the runtime.
std::optional<std::string> read_passwd() {
    constexpr off_t kLimit = 1 << 20;
    UniqueFd fd(::open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kLimit)
        return std::nullopt;
    auto text = read_all(fd.get());
    if (!text) return std::nullopt;
    return std::move(*text);
}

// The home directory /etc/passwd gives uid ("name:password:uid:gid:gecos:home:shell"), or "/".
std::string home_of(uint32_t uid) {
    auto passwd = read_passwd();
    if (!passwd) return "/";
    std::istringstream lines(*passwd);
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> fields;
        std::istringstream in(line);
        for (std::string field; std::getline(in, field, ':');) fields.push_back(field);
        uint32_t entry_uid = 0;
        if (fields.size() < 6) continue;
        auto [end, error] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), entry_uid);
        if (error == std::errc() && end == fields[2].data() + fields[2].size() && entry_uid == uid)
            return fields[5].empty() ? "/" : fields[5];
    }
    return "/";
}

ErrorOr<void> apply_kernel_attributes(const spec::Process& process, const ProcessPlan& plan) {
    if (process.scheduler) TRY(apply_scheduler(*process.scheduler));
    if (process.io_priority) TRY(apply_io_priority(*process.io_priority));
    if (plan.personality) TRY(apply_personality(*plan.personality));
    if (plan.memory_policy) TRY(apply_memory_policy(*plan.memory_policy));
    if (!plan.exec_label.empty()) TRY(set_exec_label(plan.exec_label));
    return {};
}

}  // namespace

ErrorOr<ProcessPlan> prepare_process_plan(const spec::Process& process,
                                          const std::optional<spec::Linux>& linux_, PassedFds fds,
                                          bool other_user_namespace) {
    ProcessPlan plan;
    if (linux_ && linux_->seccomp) plan.seccomp = TRY(security::SeccompFilter::build(*linux_->seccomp));
    plan.capabilities = TRY(security::prepare_capabilities(process.capabilities));
    if (!other_user_namespace) TRY(security::check_capabilities_available(plan.capabilities));
    plan.rlimits = TRY(security::prepare_rlimits(process.rlimits));
    TRY(security::check_rlimits_allowed(plan.rlimits));
    plan.fds = fds;
    if (linux_) {
        plan.personality = linux_->personality;
        plan.memory_policy = linux_->memory_policy;
    }
    // Where SELinux is off there is nothing to label with: accepted and ignored, as crun does.
    if (!process.selinux_label.empty() && selinux_enabled()) plan.exec_label = process.selinux_label;
    return plan;
}

int socket_activation_fds() {
    const char* fds = ::getenv("LISTEN_FDS");
    const char* pid = ::getenv("LISTEN_PID");
    // As go-systemd's activation.Files reads them for runc: LISTEN_PID must name us, or a stale
    // LISTEN_FDS would let the caller's other fds into the container.
    if (!fds || !pid || std::to_string(::getpid()) != pid) return 0;
    int n = 0;
    auto [end, error] = std::from_chars(fds, fds + strlen(fds), n);
    if (error != std::errc() || *end != '\0' || n < 0) return 0;
    return n;
}

std::vector<std::string> process_environment(const spec::Process& process, const ProcessPlan& plan) {
    std::vector<std::string> env = process.env;
    if (!env_value(env, "HOME")) env.push_back("HOME=" + home_of(process.user.uid));
    if (plan.fds.listen > 0) {
        std::erase_if(env, [](const std::string& e) {
            return e.starts_with("LISTEN_FDS=") || e.starts_with("LISTEN_PID=");
        });
        env.push_back("LISTEN_FDS=" + std::to_string(plan.fds.listen));
        env.push_back("LISTEN_PID=" + std::to_string(::getpid()));
    }
    return env;
}

ErrorOr<void> make_non_dumpable() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("prctl(PR_SET_DUMPABLE)");
    return {};
}

ErrorOr<void> unblock_signals() {
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return fail_errno("sigprocmask");
    return {};
}

void apply_console_size(int terminal, const spec::Process& process) {
    if (!process.console_size) return;
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(process.console_size->height);
    ws.ws_col = static_cast<unsigned short>(process.console_size->width);
    ::ioctl(terminal, TIOCSWINSZ, &ws);
}

ErrorOr<void> set_up_terminal(const spec::Process& process, const SyncChannel& channel) {
    Pty pty = TRY_CTX(open_pty(), "process.terminal");
    // The user's own terminal, as login would leave it: otherwise a non-root process could not
    // reopen /dev/tty or change its modes.
    if (::fchown(pty.replica.get(), process.user.uid, process.user.gid) != 0)
        return fail_errno("process.terminal: chown " + pty.replica_name);
    apply_console_size(pty.replica.get(), process);
    if (::ioctl(pty.replica.get(), TIOCSCTTY, 0) != 0) return fail_errno("process.terminal: TIOCSCTTY");
    for (int fd = 0; fd <= 2; ++fd)
        if (::dup2(pty.replica.get(), fd) < 0) return fail_errno("process.terminal: dup2");
    int fd = pty.master.get();
    return channel.send(SyncMessage::pty_master, {}, std::span(&fd, 1));
}

ErrorOr<std::string> find_program(const spec::Process& process) {
    const std::string& name = process.args.front();
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), X_OK) != 0) return fail_errno("process.args[0]: " + name);
        return name;
    }
    std::string path = env_value(process.env, "PATH").value_or("");
    if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string candidate = path.substr(start, end - start) + "/" + name;
        struct stat st;
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
        start = end + 1;
    }
    return fail("process.args[0]: " + name + ": executable file not found in $PATH");
}

ErrorOr<void> change_directory(const std::string& cwd) {
    if (::chdir(cwd.c_str()) != 0) return fail_errno("process.cwd: chdir " + cwd);
    // CVE-2024-21626: a magic link (/proc/self/fd/N of an inherited directory) can lead outside
    // the root; the kernel then names the cwd "(unreachable)...", which glibc reports as ENOENT.
    char resolved[PATH_MAX];
    if (!::getcwd(resolved, sizeof resolved) || resolved[0] != '/')
        return fail("process.cwd: " + cwd + " is outside the container's root");
    return {};
}

ErrorOr<void> close_inherited_fds(PassedFds fds) {
    auto first = static_cast<unsigned>(3 + fds.listen + fds.preserve);
    if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        return fail_errno("mark inherited file descriptors close-on-exec");
    return {};
}

ErrorOr<void> load_notifying_filter(ProcessPlan& plan, const SyncChannel& channel) {
    if (!plan.seccomp || !plan.seccomp->notifies()) return {};
    UniqueFd listener = TRY(plan.seccomp->load());
    int fd = listener.get();
    TRY(channel.send(SyncMessage::seccomp_listener, {}, std::span(&fd, 1)));
    plan.seccomp.reset();
    return {};
}

ErrorOr<void> become_process(const spec::Process& process, const ProcessPlan& plan,
                             const std::string& program,
                             const std::function<ErrorOr<void>()>& after_privileges) {
    // Read as root, in the container's root, before seccomp could refuse the open.
    std::vector<std::string> env = process_environment(process, plan);
    TRY(close_inherited_fds(plan.fds));
    TRY(apply_kernel_attributes(process, plan));
    TRY(security::drop_bounding_set(plan.capabilities));
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still have it.
    if (plan.seccomp && !process.no_new_privileges) TRY(plan.seccomp->load());
    TRY(security::switch_user(process.user));
    TRY(security::apply_capabilities(plan.capabilities));
    if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail_errno("process.noNewPrivileges");
    if (after_privileges) TRY(after_privileges());
    if (plan.seccomp && process.no_new_privileges) TRY(plan.seccomp->load());
    std::vector<char*> argv, envp;
    for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(program.c_str(), argv.data(), envp.data());
    return fail_errno("exec " + program);
}

}  // namespace hutch::runtime
