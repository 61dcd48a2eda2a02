// The microVM backend: the container's pid is hutch-vm-relay (cli/hutch_vm_relay.cpp), a
// separate program beside hutch-oci, as hutch-systemd is. It packs the rootfs into an erofs disk,
// boots the VM (before it says ready: create pays for the boot), waits on exec.fifo for start,
// then relays stdio and signals, and exits with the guest process's status. A program of its
// own, so that hutch-oci stays static and small: the host side builds the agent's initramfs with libarchive,
// which Debian links only dynamically (its static archive wants static libxml2, libacl, liblzma...), and none
// of it is on the linux path.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "base/file.h"
#include "base/json.h"
#include "base/json_reader.h"
#include "base/terminal.h"
#include "microvm/agent/guest_limits.h"
#include "microvm/host/relay_fds.h"
#include "runtime/backend.h"
#include "runtime/hooks.h"
#include "runtime/process_setup.h"

extern char** environ;

namespace hutch::runtime {
namespace {

using microvm::host::relay_pidfd_fd;
using microvm::host::relay_ready_fd;

constexpr const char* relay_name = "hutch-vm-relay";

// HUTCH_VM_RELAY, else beside hutch-oci, else on PATH.
std::string relay_path() {
    if (const char* env = std::getenv("HUTCH_VM_RELAY"); env && *env) return env;
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string beside(self, static_cast<size_t>(n));
        beside = beside.substr(0, beside.find_last_of('/') + 1) + relay_name;
        if (::access(beside.c_str(), X_OK) == 0) return beside;
    }
    return relay_name;
}

// What the configuration asks for that the VM does not give yet: refused, one line each.
// createContainer and startContainer hooks run in the container's namespaces, which are the
// guest's: the host has none to run them in.
ErrorOr<void> check_supported(const CreateOptions& options, const spec::Spec& spec) {
    if (options.preserve_fds > 0) return fail("run.oci.handler=microvm: --preserve-fds is not supported");
    if (!spec.hooks.create_container.empty() || !spec.hooks.start_container.empty())
        return fail(
            "run.oci.handler=microvm: createContainer and startContainer hooks (run in the container) are "
            "not supported yet");
    return {};
}

// prestart and createRuntime, on the host, once the VM is booted: the point where a linux
// container's run, its namespaces made, with the same state ("created", the relay's pid).
ErrorOr<void> run_create_hooks(const Container& container, const spec::Spec& spec) {
    auto state_json = container.spec_state();
    state_json["status"] = "created";
    std::string state = json_text(state_json);
    HookSetting setting{.cwd = container.state.bundle};
    TRY(run_hooks("prestart", spec.hooks.prestart, state, setting));
    return run_hooks("createRuntime", spec.hooks.create_runtime, state, setting);
}

// The relay's stdio, when it is not the caller's: with process.terminal and a console socket, a
// new pty's replica, whose master create sends to the socket. The process's own terminal is the
// guest's pty; the relay joins the two (hutch-vm-relay).
struct RelayStdio {
    UniqueFd master, replica;  // none: the relay inherits the caller's stdio
};

ErrorOr<RelayStdio> relay_stdio(const std::string& console_socket, const spec::Process& process) {
    if (!process.terminal || console_socket.empty()) return RelayStdio{};
    Pty pty = TRY_CTX(open_pty(), "process.terminal");
    apply_console_size(pty.replica.get(), process);
    return RelayStdio{std::move(pty.master), std::move(pty.replica)};
}

// Runs the relay with args, the caller's stdio but for the fds given (each fd's .first dup'd to
// its .second; a terminal's replica on 0, 1 and 2 comes with a session of its own, where it
// becomes the controlling terminal), and nothing else: no lock, no channel of ours. It may
// outlive this command, as a container's process does.
ErrorOr<pid_t> spawn_relay(std::vector<std::string> args, const std::vector<std::pair<int, int>>& fds,
                           bool new_session) {
    std::string path = relay_path();
    std::vector<char*> argv = {path.data()};
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    // Each source first moved above every target, so that no dup2 overwrites a source still to
    // be dup'd (a pidfd that happens to be fd 3, say).
    constexpr int above_targets = 10;
    std::vector<UniqueFd> sources;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int highest = 2;
    for (auto [from, to] : fds) {
        sources.emplace_back(::fcntl(from, F_DUPFD_CLOEXEC, above_targets));
        if (!sources.back()) {
            posix_spawn_file_actions_destroy(&actions);
            return fail_errno("dup a descriptor for " + path);
        }
        posix_spawn_file_actions_adddup2(&actions, sources.back().get(), to);
        highest = std::max(highest, to);
    }
    posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);
    // `run` blocks every signal before create, to forward them: the relay gets none of that, but
    // the default mask and dispositions, as a linux container's process unblocks them for itself.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (new_session ? POSIX_SPAWN_SETSID : 0));
    pid_t pid = 0;
    int rc = path.find('/') == std::string::npos
                 ? ::posix_spawnp(&pid, path.c_str(), &actions, &attr, argv.data(), environ)
                 : ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return fail_errno("run " + path + " (installed beside hutch-oci)", rc);
    return pid;
}

// Everything the relay wrote on its ready pipe, until it closed it (said ready, or died).
std::string read_until_closed(int fd) { return read_all(fd).value_or(""); }

void reap(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    reap(pid);
}

// The relay with args, once it said ready (the VM booted, or the exec started); else one line
// saying why not, and no relay left.
ErrorOr<pid_t> start_relay(std::vector<std::string> args, RelayStdio& stdio) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd ready_read(fds[0]), ready_write(fds[1]);
    std::vector<std::pair<int, int>> relay_fds = {{ready_write.get(), relay_ready_fd}};
    for (int fd = 0; stdio.replica && fd <= 2; ++fd) relay_fds.emplace_back(stdio.replica.get(), fd);
    pid_t pid = TRY(spawn_relay(std::move(args), relay_fds, static_cast<bool>(stdio.replica)));
    ready_write.reset();
    stdio.replica.reset();
    std::string said = read_until_closed(ready_read.get());
    if (said != "ready") {
        kill_and_reap(pid);
        return fail(said.empty() ? std::string("the microVM relay exited before it was ready") : said);
    }
    return pid;
}

// Each line fd gives until its end, to emit.
void emit_lines(int fd, const EventSink& emit) {
    std::string pending;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        pending.append(buf, static_cast<size_t>(n));
        for (size_t end; (end = pending.find('\n')) != std::string::npos; pending.erase(0, end + 1))
            emit(pending.substr(0, end));
    }
}

// The relay with args and the extra descriptors (as spawn_relay's), each line of its stdout to
// each_line; fails with the line it wrote on fd 3, if it wrote one.
ErrorOr<void> run_relay_for_lines(std::vector<std::string> args, std::vector<std::pair<int, int>> fds,
                                  const EventSink& each_line) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd lines_read(ends[0]), lines_write(ends[1]);
    if (::pipe2(ends, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd said_read(ends[0]), said_write(ends[1]);
    fds.emplace_back(lines_write.get(), STDOUT_FILENO);
    fds.emplace_back(said_write.get(), relay_ready_fd);
    pid_t pid = TRY(spawn_relay(std::move(args), fds, false));
    lines_write.reset();
    said_write.reset();
    emit_lines(lines_read.get(), each_line);
    std::string said = read_until_closed(said_read.get());
    reap(pid);
    if (!said.empty()) return fail(said);
    return {};
}

// The VMM's pid, which the relay wrote at boot.
ErrorOr<pid_t> vmm_pid(const Container& container) {
    std::string text = TRY(read_file(container.dir() + "/vmm.pid"));
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || end != text.data() + text.size() || pid <= 0)
        return fail("container " + container.state.id + ": vmm.pid holds no pid");
    return pid;
}

// The VMM by pidfd, once it is seen to be the relay's child (so that a pid reused since cannot be
// signalled); the relay is the container's process, checked by its start time.
ErrorOr<UniqueFd> open_vmm_pidfd(const Container& container) {
    const std::string& id = container.state.id;
    UniqueFd relay = open_container_pidfd(container.state);
    if (!relay) return fail("container " + id + " is not running");
    pid_t pid = TRY(vmm_pid(container));
    UniqueFd vmm(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    auto stat = read_process_stat(pid);
    if (!vmm || !stat || stat->parent != container.state.pid)
        return fail("container " + id + ": its VMM is gone");
    return vmm;
}

// The agent answers the host's requests about the container (update, events, ps) from create on;
// a paused VM's is stopped with it.
ErrorOr<void> check_agent_answers(Status status) {
    if (status == Status::created || status == Status::running) return {};
    return fail("it is " + std::string(status_name(status)) +
                " (its VM is stopped, and so is the agent that would answer: resume it first)");
}

class MicrovmBackend final : public Backend {
public:
    std::string_view name() const override { return "microvm"; }

    ErrorOr<Launched> launch(const CreateOptions& options, Container& container,
                             const spec::LoadedConfig& config, RunCreate) const override {
        TRY(check_supported(options, config.spec));
        RelayStdio stdio = TRY(relay_stdio(options.console_socket, config.spec.process));
        // The relay reads the process from it, as exec reads it for the linux backend.
        TRY(container.save_config(config.text));
        // Even in `run`: the relay waits on the fifo as a linux container's process does.
        if (::mkfifo(container.fifo_path().c_str(), 0600) != 0)
            return fail_errno("mkfifo " + container.fifo_path());
        auto pid = start_relay({container.dir(), container.state.rootfs}, stdio);
        if (!pid) {
            ::unlink(container.fifo_path().c_str());
            return std::unexpected(pid.error());
        }
        Launched launched;
        launched.pid = *pid;
        launched.pty_master = std::move(stdio.master);
        launched.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
        container.state.pid = *pid;
        container.state.pid_start_time = process_start_time(*pid);
        auto saved = container.save();
        if (saved) saved = run_create_hooks(container, config.spec);
        if (!saved) {
            kill_and_reap(*pid);
            return std::unexpected(saved.error());
        }
        return launched;
    }

    // The relay forwards what it receives to the guest's process; SIGKILL ends the relay and, by
    // its parent-death signal, QEMU with it. --all: the guest's processes are the VM's, and the
    // relay is the only host process of the container.
    ErrorOr<void> signal(const Container& container, Status, int signal, bool) const override {
        UniqueFd pidfd = open_container_pidfd(container.state);
        if (!pidfd) return fail("cannot kill container " + container.state.id + ": container not running");
        if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0)
            return fail_errno("kill container " + container.state.id);
        return {};
    }

    // SIGSTOP to the VMM stops every vCPU, so every process of the container; signals sent
    // meanwhile wait in the relay's socket. A killed relay takes the stopped VMM with it (its
    // parent-death signal is SIGKILL).
    ErrorOr<void> set_paused(const Container& container, bool paused) const override {
        UniqueFd vmm = TRY(open_vmm_pidfd(container));
        if (::syscall(SYS_pidfd_send_signal, vmm.get(), paused ? SIGSTOP : SIGCONT, nullptr, 0) != 0)
            return fail_errno(paused ? "stop the VMM" : "continue the VMM");
        return {};
    }

    bool paused(const Container& container) const override {
        auto pid = vmm_pid(container);
        if (!pid || !open_vmm_pidfd(container)) return false;
        auto stat = read_process_stat(*pid);
        return stat && stat->state == 'T';
    }

    // In the guest's cgroup, through the container's relay (its exec socket): the agent answers
    // from create on, but not while its VM is paused.
    ErrorOr<void> update(const Container& container, const spec::Resources& resources) const override {
        TRY_CTX(check_agent_answers(container.status()), "cannot update container " + container.state.id);
        RelayStdio stdio;
        std::string limits = microvm::to_json(microvm::guest_limits(resources));
        reap(TRY(start_relay({"--update", container.dir(), limits}, stdio)));
        return {};
    }

    // hutch-vm-relay --events runs the same events (event_stream.h) on the counters the agent
    // reads in the guest, and prints them a line each; they are passed on here. A stream that runs
    // when the VM is paused waits for its resume; one asked for while it is paused is refused.
    ErrorOr<void> events(const Container& container, Status status, UniqueFd pidfd,
                         const EventsOptions& options, const EventSink& emit) const override {
        TRY_CTX(check_agent_answers(status), "cannot read the counters of container " + container.state.id);
        if (!pidfd && !options.stats) return {};  // stopped meanwhile
        std::vector<std::pair<int, int>> pidfd_fds;
        if (pidfd) pidfd_fds.emplace_back(pidfd.get(), relay_pidfd_fd);
        std::string interval = options.stats ? "once" : std::to_string(options.interval.count());
        return run_relay_for_lines({"--events", container.dir(), container.state.id, interval}, pidfd_fds,
                                   emit);
    }

    // The agent lists the processes of the container's cgroup (hutch-vm-relay --ps), as the
    // container's pid namespace numbers them.
    ErrorOr<std::vector<pid_t>> processes(const Container& container, Status status) const override {
        TRY(check_agent_answers(status));
        std::string listed;
        TRY(run_relay_for_lines({"--ps", container.dir()}, {},
                                [&](const std::string& line) { listed += line; }));
        auto pids = nlohmann::json::parse(listed, nullptr, false);
        return TRY_CTX(json::convert<std::vector<pid_t>>(pids, "pids"), "hutch-vm-relay --ps");
    }

    ErrorOr<std::string> process_table(const std::vector<pid_t>&,
                                       const std::vector<std::string>&) const override {
        return fail(
            "a microVM's processes are the guest's, which the host's ps cannot show (--format json lists "
            "their pids)");
    }

    // The relay and QEMU; its disk and initramfs go with the state directory.
    ErrorOr<void> destroy(const ContainerState& state, int) const override {
        UniqueFd pidfd = open_container_pidfd(state);
        if (!pidfd) return {};
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        struct pollfd pfd = {pidfd.get(), POLLIN, 0};
        ::poll(&pfd, 1, 10000);
        return {};
    }
};

}  // namespace

ErrorOr<ExecLaunched> launch_microvm_exec(const Container& container, const spec::Process& process,
                                          const std::string& process_json, const ExecOptions& options) {
    const std::string& id = container.state.id;
    if (container.status() != Status::running)
        return fail("cannot exec in container " + id + ": it is " + status_name(container.status()) +
                    " (a microVM's execs need its process running)");
    if (options.preserve_fds > 0) return fail("run.oci.handler=microvm: --preserve-fds is not supported");
    if (!options.cgroup.empty()) return fail("run.oci.handler=microvm: --cgroup is not supported");
    RelayStdio stdio = TRY(relay_stdio(options.console_socket, process));
    pid_t pid = TRY(start_relay({"--exec", container.dir(), process_json}, stdio));
    ExecLaunched launched;
    launched.pid = pid;
    launched.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    launched.pty_master = std::move(stdio.master);
    return launched;
}

const Backend& microvm_backend() {
    static const MicrovmBackend backend;
    return backend;
}

}  // namespace hutch::runtime
