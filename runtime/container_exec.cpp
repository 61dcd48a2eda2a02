// `exec`: a new process in a created or running container, joined to its namespaces and cgroups
// and set up as its first process was (capabilities, seccomp, rlimits, user, no_new_privs). What
// it needs from the container comes from the state saved at create, never from the bundle, which
// may have changed since.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "cgroups/manager.h"
#include "namespaces/namespaces.h"
#include "runtime/backend.h"
#include "runtime/create_internal.h"
#include "runtime/exec_launch.h"
#include "runtime/exec_process.h"
#include "runtime/foreground.h"
#include "runtime/unix_socket.h"

namespace hutch::runtime {
namespace {

ErrorOr<void> check_status(const Container& container) {
    Status status = container.status();
    const std::string& id = container.state.id;
    if (status == Status::paused)
        return fail("cannot exec in container " + id + ": it is paused (resume it first)");
    if (status != Status::created && status != Status::running)
        return fail("cannot exec in container " + id + ": it is " + status_name(status));
    return {};
}

// The process, and its JSON for a microVM's relay (in the agent's config, strings that are not
// UTF-8 become U+FFFD: base/json.h).
struct ExecProcess {
    spec::Process process;
    std::string json;
};

ErrorOr<ExecProcess> exec_process(const std::string& config_text, const ExecOptions& o) {
    if (!o.process_file.empty()) {
        std::string text = TRY_CTX(read_file(o.process_file), "--process");
        return ExecProcess{TRY_CTX(spec::parse_process_json(text), "--process " + o.process_file), text};
    }
    auto config = nlohmann::json::parse(config_text, nullptr, false);
    nlohmann::json process =
        TRY(exec_process_json(config.is_object() ? config["process"] : nlohmann::json(), o));
    // Parsed as it is, never through JSON text: an argument, --env or --cwd that is not UTF-8
    // reaches the process unchanged, as with runc.
    return ExecProcess{TRY(spec::parse_process_object(process)), json_text(process)};
}

// Every namespace config.json lists, made by the container or joined by path: the container's
// first process is in each, so its pidfd reaches them all.
int namespace_flags(const spec::Spec& spec) {
    int flags = 0;
    if (spec.linux_)
        for (const auto& ns : spec.linux_->namespaces) flags |= namespaces::clone_flag(ns.type);
    return flags;
}

ErrorOr<void> check_terminal(const spec::Process& process, const ExecOptions& o) {
    if (process.terminal && o.console_socket.empty() && o.detach)
        return fail("exec: a terminal with --detach needs --console-socket");
    if (!process.terminal && !o.console_socket.empty())
        return fail("--console-socket given but the process has no terminal (use --tty)");
    return {};
}

// The root of a container without a mount namespace of its own, opened while its first process
// is known to be the one hutch started (pidfd still open, polled after the open); none for one
// with its own, whose root setns() gives.
ErrorOr<UniqueFd> open_shared_root(const spec::Spec& spec, const ContainerState& state, int pidfd) {
    const auto* mnt = spec::find_namespace(spec, spec::NamespaceType::mount);
    if (mnt && mnt->path.empty()) return UniqueFd{};
    std::string path = "/proc/" + std::to_string(state.pid) + "/root";
    UniqueFd root(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct pollfd exited = {pidfd, POLLIN, 0};
    if (!root || ::poll(&exited, 1, 0) != 0)
        return fail("cannot exec in container " + state.id + ": its process is gone");
    return root;
}

// Hands the terminal and the pid over as the client asked; the process is killed if that fails.
ErrorOr<void> report_started(const ExecLaunched& launched, const ExecOptions& o) {
    if (launched.pty_master && !o.console_socket.empty())
        TRY(send_to_console_socket(o.console_socket, launched.pty_master.get()));
    if (!o.pid_file.empty())
        TRY_CTX(write_file_atomic(absolute_from_cwd(o.pid_file), std::to_string(launched.pid)), "--pid-file");
    return {};
}

// The process runs: the client gets its terminal and pid, and, in the foreground, its exit status.
ErrorOr<int> supervise(Container& container, const ExecLaunched& launched, const ExecOptions& o,
                       int signal_fd) {
    log::debug("exec: the process runs");
    container.unlock();
    if (auto reported = report_started(launched, o); !reported) {
        ::kill(launched.pid, SIGKILL);
        return std::unexpected(reported.error());
    }
    if (o.detach) return 0;
    return supervise_foreground(launched.pidfd.get(), signal_fd,
                                launched.pty_master ? launched.pty_master.get() : -1);
}

}  // namespace

ErrorOr<int> exec(const ExecOptions& o) {
    UniqueFd signal_fd;
    // Blocked before the clone so that no signal is lost; the child unblocks them for itself.
    if (!o.detach) signal_fd = TRY(block_signals());
    auto container = TRY(Container::open(o.root, o.id));
    TRY(check_status(container));
    std::string config_text = TRY(container.load_config());
    auto [process, process_json] = TRY(exec_process(config_text, o));
    TRY(check_terminal(process, o));
    if (backend_of(container.state).name() == microvm_backend().name()) {
        auto launched = TRY(launch_microvm_exec(container, process, process_json, o));
        return supervise(container, launched, o, signal_fd.get());
    }
    spec::Spec spec = TRY_CTX(spec::parse_spec(config_text), "container " + o.id + ": saved config.json");
    int ns_flags = namespace_flags(spec);
    ProcessPlan plan = TRY(prepare_process_plan(
        process, spec.linux_, {.listen = 0, .preserve = o.preserve_fds}, (ns_flags & CLONE_NEWUSER) != 0));
    UniqueFd container_pidfd = open_container_pidfd(container.state);
    if (!container_pidfd) return fail("cannot exec in container " + o.id + ": its process is gone");
    UniqueFd root = TRY(open_shared_root(spec, container.state, container_pidfd.get()));
    auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
    ExecTarget target{.container_pidfd = container_pidfd.get(),
                      .namespace_flags = ns_flags,
                      .root_fd = root ? root.get() : -1,
                      .cgroups = cgroups.get(),
                      .sub_cgroup = o.cgroup,
                      .seccomp = nullptr,
                      .state = {}};
    // Only a seccomp agent is told the container's state: reading it (the status from the kernel)
    // is not worth paying on every exec.
    if (plan.seccomp && plan.seccomp->notifies()) {
        target.seccomp = &*spec.linux_->seccomp;
        target.state = container.spec_state();
    }
    auto launched = TRY(launch_exec(process, plan, target));
    return supervise(container, launched, o, signal_fd.get());
}

}  // namespace hutch::runtime
