#include "runtime/exec_launch.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "base/log.h"
#include "runtime/clone.h"
#include "runtime/seccomp_listener.h"
#include "runtime/sync_channel.h"

namespace hutch::runtime {
namespace {

// Everything the child needs, opened by the parent before the clone.
struct ExecChild {
    const spec::Process& process;
    ProcessPlan& plan;
    const ExecTarget& target;
    std::vector<UniqueFd> join_files;  // cgroup v1 `tasks` files (and cgroup.procs without clone3's help)
};

ErrorOr<void> join_cgroups(const std::vector<UniqueFd>& files) {
    for (const auto& fd : files)
        if (::write(fd.get(), "0", 1) != 1) return fail_errno("move into the container's cgroup");
    return {};
}

// process.execCPUAffinity's `initial` or `final` (a mask, 64 CPUs a word) for the calling
// process; nothing when it is not set.
ErrorOr<void> run_on(const std::vector<uint64_t>& cpus, const char* field) {
    if (cpus.empty()) return {};
    cpu_set_t set;
    CPU_ZERO(&set);
    for (size_t cpu = 0; cpu < cpus.size() * 64 && cpu < CPU_SETSIZE; ++cpu)
        if ((cpus[cpu / 64] >> (cpu % 64)) & 1) CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
        return fail_errno(std::string("process.execCPUAffinity.") + field + ": sched_setaffinity");
    return {};
}

// --- the child: nothing below throws, and every failure is reported on the channel ---

ErrorOr<void> child_setup(ExecChild& ctx, const SyncChannel& channel) {
    TRY(make_non_dumpable());
    TRY(unblock_signals());
    TRY(join_cgroups(ctx.join_files));
    if (ctx.process.exec_cpu_affinity) TRY(run_on(ctx.process.exec_cpu_affinity->final_cpus, "final"));
    // Before entering a user namespace, where a hard limit could no longer be raised.
    TRY(security::apply_rlimits(ctx.plan.rlimits));
    // One setns() joins them all, the user namespace first; the pid namespace was the parent's
    // to join, for the clone.
    int flags = ctx.target.namespace_flags & ~CLONE_NEWPID;
    if (flags != 0 && ::setns(ctx.target.container_pidfd, flags) != 0)
        return fail_errno("join the container's namespaces");
    if (ctx.target.root_fd >= 0 && (::fchdir(ctx.target.root_fd) != 0 || ::chroot(".") != 0))
        return fail_errno("enter the container's root");
    if (::setsid() < 0) return fail_errno("setsid");
    if (ctx.process.terminal) TRY(set_up_terminal(ctx.process, channel));
    TRY(change_directory(ctx.process.cwd));
    std::string program = TRY(find_program(ctx.process));
    TRY(load_notifying_filter(ctx.plan, channel));
    return become_process(ctx.process, ctx.plan, program);
}

[[noreturn]] void child_main(ExecChild& ctx, const SyncChannel& channel) noexcept {
    std::string failure = child_setup_failure([&] { return child_setup(ctx, channel); });
    if (!channel.send(SyncMessage::error, failure)) dprintf(2, "hutch-oci: exec: %s\n", failure.c_str());
    _exit(127);
}

// --- the parent ---

// Clones the child into the container's pid namespace and (v2) cgroup. Where clone3 will not
// place it in the cgroup, the child is told, before a plain clone, to move itself in.
ErrorOr<pid_t> clone_exec_child(ExecChild& ctx, int cgroup_fd, UniqueFd& pidfd) {
    std::optional<PidNamespaceForChildren> pid_ns;
    if (ctx.target.namespace_flags & CLONE_NEWPID)
        pid_ns.emplace(TRY(PidNamespaceForChildren::enter(ctx.target.container_pidfd,
                                                          "join the container's pid namespace")));
    pid_t pid = clone_child(0, cgroup_fd, pidfd);
    if (pid < 0 && cgroup_fd >= 0 && clone_into_cgroup_refused(errno)) {
        UniqueFd procs(::openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC));
        if (!procs) return fail_errno("open the container's cgroup.procs");
        ctx.join_files.push_back(std::move(procs));
        pid = clone_child(0, -1, pidfd);
    }
    if (pid < 0) return fail_errno("clone3");
    return pid;
}

// Until the child's end closes (it exec'd) or it reports an error.
ErrorOr<void> wait_for_exec(const SyncChannel& channel, const ExecTarget& target, ExecLaunched& launched) {
    for (;;) {
        auto msg = channel.receive();
        if (!msg && msg.error().code == EPIPE) return {};
        if (!msg) return std::unexpected(msg.error());
        switch (msg->type) {
            case SyncMessage::pty_master:
                if (!msg->fds.empty()) launched.pty_master = std::move(msg->fds.front());
                break;
            case SyncMessage::seccomp_listener:
                if (msg->fds.empty() || !target.seccomp) return fail("sync channel: no seccomp listener fd");
                TRY(send_to_seccomp_listener(*target.seccomp, target.state, launched.pid,
                                             msg->fds.front().get()));
                break;
            case SyncMessage::error: return fail(msg->text);
            default: return fail("sync channel: unexpected message from the exec process");
        }
    }
}

}  // namespace

ErrorOr<ExecLaunched> launch_exec(const spec::Process& process, ProcessPlan& plan, const ExecTarget& target) {
    ExecChild ctx{.process = process, .plan = plan, .target = target, .join_files = {}};
    ctx.join_files = TRY(target.cgroups->open_self_join_files());
    UniqueFd cgroup_dir = TRY(target.cgroups->open_exec_target(target.sub_cgroup));
    int cgroup_fd = cgroup_dir ? cgroup_dir.get() : -1;
    auto [parent_end, child_end] = TRY(SyncChannel::make_pair());
    ExecLaunched launched;
    // The runtime's process, which the child is cloned from: before the container's cgroup.
    if (process.exec_cpu_affinity) TRY(run_on(process.exec_cpu_affinity->initial, "initial"));
    pid_t pid = TRY(clone_exec_child(ctx, cgroup_fd, launched.pidfd));
    if (pid == 0) {
        parent_end.close();
        child_main(ctx, child_end);
    }
    child_end.close();
    launched.pid = pid;
    log::debug("exec: cloned");
    if (auto ran = wait_for_exec(parent_end, target, launched); !ran) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return std::unexpected(ran.error());
    }
    return launched;
}

}  // namespace hutch::runtime
