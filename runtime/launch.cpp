#include "runtime/launch.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "base/cpu_affinity.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "cgroups/systemd.h"
#include "namespaces/namespaces.h"
#include "namespaces/net_devices.h"
#include "namespaces/rootfs.h"
#include "runtime/clone.h"
#include "runtime/hooks.h"
#include "runtime/kernel_attributes.h"
#include "runtime/net_devices.h"
#include "runtime/process_setup.h"
#include "runtime/seccomp_listener.h"
#include "runtime/shared_rootfs.h"
#include "runtime/sync_channel.h"

namespace hutch::runtime {
namespace {

// Everything the child needs, prepared by the parent before the clone.
struct ChildContext {
    const std::string& id;
    const spec::Spec& spec;
    const LaunchOptions& options;
    namespaces::Plan ns;
    UniqueFd fifo{};  // O_PATH, reopened for writing by the child to wait for start; none in `run`
    cpu_set_t cpus = allowed_cpus();  // given back when the child joins its cgroups
    cpu_set_t away = other_cpus();    // where the child runs until then: not on the parent's CPU
    ProcessPlan plan{};
    // The child stops once its namespaces and mounts are ready: for hooks, and for the parent to
    // move linux.netDevices into its network namespace.
    bool round_trip = false;
    std::string bundle{};                 // where createContainer hooks run, as the runtime's do
    std::vector<UniqueFd> binds_ahead{};  // rootfs::build_binds_ahead's, inherited by the child
    std::string mount_label{};            // linux.mountLabel where SELinux is enabled
};

bool needs_round_trip(const spec::Spec& spec) {
    const spec::Hooks& hooks = spec.hooks;
    return !hooks.prestart.empty() || !hooks.create_runtime.empty() || !hooks.create_container.empty() ||
           !hooks.start_container.empty() || (spec.linux_ && !spec.linux_->net_devices.empty());
}

std::string with_status(const std::string& state_json, const char* status) {
    auto j = nlohmann::ordered_json::parse(state_json, nullptr, false);
    if (!j.is_object()) return state_json;  // in the child: j["status"] would throw on anything else
    j["status"] = status;
    return json_text(j);
}

// --- the child: nothing below throws, and every failure is reported on the channel ---

// Writing "0" into each hierarchy's `tasks` moves this (single-threaded) process without the
// RCU grace period that a move by another process costs.
ErrorOr<void> join_cgroups(std::span<const UniqueFd> files) {
    for (const auto& fd : files)
        if (::write(fd.get(), "0", 1) != 1) return fail_errno("move into the container's cgroup");
    return {};
}

// joins_ready's text: what the container's cgroup mounts bind, [[name, dir], ...].
std::string binds_to_text(const std::vector<rootfs::CgroupBind>& binds) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& bind : binds) list.push_back({bind.name, bind.source});
    return json_text(list);
}

ErrorOr<std::vector<rootfs::CgroupBind>> binds_from_text(const std::string& text) {
    auto list = nlohmann::json::parse(text, nullptr, false);
    if (!list.is_array()) return fail("sync channel: no cgroup hierarchies from the parent");
    std::vector<rootfs::CgroupBind> binds;
    for (const auto& bind : list) {
        if (!bind.is_array() || bind.size() != 2 || !bind[0].is_string() || !bind[1].is_string())
            return fail("sync channel: a malformed cgroup hierarchy from the parent");
        binds.push_back({bind[0].get<std::string>(), bind[1].get<std::string>()});
    }
    return binds;
}

// Waits for the parent's cgroups and joins them, then takes the cgroup mounts the parent built
// meanwhile. Returns what the container's cgroup mounts show.
ErrorOr<rootfs::CgroupView> join_cgroups_from_parent(const ChildContext& ctx, const SyncChannel& channel) {
    auto ready = TRY(channel.expect(SyncMessage::joins_ready));
    restore_cpus(ctx.cpus);  // after the parent moved this process, which happened before it sent
    TRY(join_cgroups(ready.fds));
    rootfs::CgroupView view{.binds = TRY(binds_from_text(ready.text)),
                            .built = TRY(channel.expect(SyncMessage::cgroup_mounts)).fds};
    return view;
}

ErrorOr<void> enter_namespaces(ChildContext& ctx, const SyncChannel& channel) {
    if (ctx.ns.new_user) {
        TRY(channel.expect(SyncMessage::ids_mapped));
        // Raw syscalls: glibc's wrappers would apply them to every thread it believes the
        // process has, and a clone3() child inherits the parent's idea of its threads.
        if (::syscall(SYS_setresgid, 0, 0, 0) != 0)
            return fail_errno("setresgid to root in the user namespace");
        if (::syscall(SYS_setresuid, 0, 0, 0) != 0)
            return fail_errno("setresuid to root in the user namespace");
    }
    TRY(namespaces::join_all(ctx.ns));
    if (::setsid() < 0) return fail_errno("setsid");
    return {};
}

// Without a mount namespace of its own, the parent records the rootfs mount's id in the state
// before the mount is attached (rootfs.h says why).
ErrorOr<uint64_t> prepare_shared_rootfs(const ChildContext& ctx, const SyncChannel& channel,
                                        rootfs::MountInputs inputs) {
    auto record = [&](uint64_t id) -> ErrorOr<void> {
        TRY(channel.send(SyncMessage::rootfs_mount, std::to_string(id)));
        TRY(channel.expect(SyncMessage::rootfs_mount_recorded));
        return {};
    };
    return rootfs::prepare_shared_rootfs(ctx.spec, ctx.options.rootfs, record, std::move(inputs));
}

ErrorOr<void> join_session_keyring(const std::string& id) {
    constexpr int kKeyctlJoinSessionKeyring = 1;
    std::string name = "_ses." + id;
    if (::syscall(SYS_keyctl, kKeyctlJoinSessionKeyring, name.c_str()) < 0 && errno != ENOSYS)
        return fail_errno("join a new session keyring");
    return {};
}

ErrorOr<void> set_names(const spec::Spec& spec) {
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
        return fail_errno("hostname: sethostname");
    if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
        return fail_errno("domainname: setdomainname");
    return {};
}

// A cwd the rootfs lacks is made, as runc and crun make it: images name a WORKDIR that only
// exists once something is written there. After the pivot, so it cannot land outside the root.
ErrorOr<void> make_working_directory(const std::string& cwd) {
    std::string path;
    for (size_t start = 1; start <= cwd.size();) {
        size_t end = cwd.find('/', start);
        if (end == std::string::npos) end = cwd.size();
        path += "/" + cwd.substr(start, end - start);
        if (end > start && ::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
            return fail_errno("process.cwd: mkdir " + path);
        start = end + 1;
    }
    return {};
}

ErrorOr<void> set_oom_score_adj(const std::optional<int>& adj) {
    if (!adj) return {};
    return map_error(write_existing_file("/proc/self/oom_score_adj", std::to_string(*adj)),
                     [](const Error& e) { return e.context("process.oomScoreAdj"); });
}

// Blocks until `start` opens the fifo for reading, then runs startContainer hooks and execs.
// From here on, failures are written to the fifo, where `start` reads them. In `run` there is no
// fifo: the parent says start on the channel, and reads failures there.
ErrorOr<void> wait_for_start_and_exec(ChildContext& ctx, const SyncChannel& channel,
                                      const std::string& program, const std::string& state) {
    UniqueFd fifo;
    if (ctx.fifo) {
        std::string reopen = "/proc/self/fd/" + std::to_string(ctx.fifo.get());
        fifo.reset(::open(reopen.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fifo) return fail_errno("open exec.fifo");
        ctx.fifo.reset();
    } else {
        TRY(channel.expect(SyncMessage::start));
    }
    log::debug("child: started");
    // Run as the process will run: in the container, with its user and capabilities, as runc does.
    auto start_hooks = [&]() -> ErrorOr<void> {
        return run_hooks("startContainer", ctx.spec.hooks.start_container, with_status(state, "created"),
                         {.env = &ctx.spec.process.env});
    };
    auto result = become_process(ctx.spec.process, ctx.plan, program, start_hooks);
    if (!result && fifo) (void)write_all(fifo.get(), result.error().message);
    return result;
}

ErrorOr<void> child_setup(ChildContext& ctx, const SyncChannel& channel) {
    const spec::Spec& spec = ctx.spec;
    // A new process starts on its parent's CPU and may run first there, while the other CPU
    // idles; the parent moves it once it runs again. Moved now, the network namespace (0.4 ms in
    // the kernel) is not made on the CPU where the parent waits to make the cgroups.
    move_to(0, ctx.away);
    TRY(make_non_dumpable());
    TRY(unblock_signals());
    TRY(enter_namespaces(ctx, channel));
    log::debug("child: namespaces entered");
    if (!ctx.options.no_new_keyring) TRY(join_session_keyring(ctx.id));
    // The parent makes the cgroups while the network namespace and the mounts are set up; the
    // child joins them before the first cgroup mount (which shows them), or else right after the
    // mounts: before any hook or user code.
    auto join = [&]() -> ErrorOr<rootfs::CgroupView> {
        auto view = TRY(join_cgroups_from_parent(ctx, channel));
        log::debug("child: in its cgroups");
        return view;
    };
    rootfs::MountInputs inputs{
        .join_cgroups = join, .binds_ahead = std::move(ctx.binds_ahead), .mount_label = ctx.mount_label};
    uint64_t shared_rootfs_id = 0;
    if (ctx.ns.new_mount_namespace())
        TRY(rootfs::prepare_rootfs(spec, ctx.options.rootfs, std::move(inputs)));
    else
        shared_rootfs_id = TRY(prepare_shared_rootfs(ctx, channel, std::move(inputs)));
    log::debug("child: mounts done");
    // Unshared after the mounts: a cgroup mount binds the container's own cgroup directories,
    // which /proc/self/cgroup names in full only outside a cgroup namespace.
    if (ctx.ns.new_cgroup && ::unshare(CLONE_NEWCGROUP) != 0)
        return fail_errno("unshare the cgroup namespace");
    std::string state;
    if (ctx.round_trip) {
        TRY(channel.send(SyncMessage::run_hooks));
        state = TRY(channel.expect(SyncMessage::hooks_done)).text;
        TRY(run_hooks("createContainer", spec.hooks.create_container, state,
                      {.cwd = ctx.bundle, .env = &spec.process.env}));
    }
    if (shared_rootfs_id != 0)
        TRY(rootfs::chroot_into(ctx.options.rootfs, shared_rootfs_id));
    else
        TRY(rootfs::enter_rootfs(ctx.options.rootfs, ctx.options.no_pivot));
    TRY(set_names(spec));
    if (spec.linux_) TRY(rootfs::apply_sysctls(spec.linux_->sysctl));
    TRY(rootfs::finalize_rootfs(spec));
    log::debug("child: pivoted, paths masked");
    if (spec.process.terminal) TRY(set_up_terminal(spec.process, channel));
    TRY(set_oom_score_adj(spec.process.oom_score_adj));
    if (!ctx.ns.new_user) TRY(security::apply_rlimits(ctx.plan.rlimits));
    TRY(make_working_directory(spec.process.cwd));
    TRY(change_directory(spec.process.cwd));
    std::string program = TRY(find_program(spec.process));
    TRY(load_notifying_filter(ctx.plan, channel));
    log::debug("child: created, waiting for start");
    TRY(channel.send(SyncMessage::created));
    return wait_for_start_and_exec(ctx, channel, program, state);
}

[[noreturn]] void child_main(ChildContext& ctx, SyncChannel& channel, int lock_fd) noexcept {
    ::close(lock_fd);
    std::string failure = child_setup_failure([&] { return child_setup(ctx, channel); });
    // Reaching here means something failed: before "created" the parent reads this; after it,
    // only the container's stderr is left to tell.
    if (!channel.send(SyncMessage::error, failure))
        dprintf(2, "hutch-oci: container %s: %s\n", ctx.id.c_str(), failure.c_str());
    _exit(1);
}

// --- the parent ---

// Clones with the pid namespace to join (if any) as the one for children. Born in cgroup_fd when
// it is given; where clone3 will not do that, the process is cloned plainly and moved in
// afterwards by the caller (moved_in is then false).
ErrorOr<pid_t> clone_into_namespaces(const namespaces::Plan& ns, int cgroup_fd, UniqueFd& pidfd,
                                     bool& moved_in) {
    std::optional<PidNamespaceForChildren> pid_ns;
    if (ns.pid_join)
        pid_ns.emplace(TRY(PidNamespaceForChildren::enter(ns.pid_join.get(), "linux.namespaces.pid")));
    pid_t pid = clone_child(ns.clone_flags, cgroup_fd, pidfd);
    moved_in = cgroup_fd >= 0 && pid >= 0;
    if (pid < 0 && cgroup_fd >= 0 && clone_into_cgroup_refused(errno))
        pid = clone_child(ns.clone_flags, -1, pidfd);
    if (pid < 0) return fail_errno("clone3");
    return pid;
}

int joined_user(const namespaces::Plan& ns) {
    for (const auto& join : ns.joins)
        if (join.type == spec::NamespaceType::user) return join.fd.get();
    return -1;
}

ErrorOr<ChildContext> prepare_child(const spec::Spec& spec, Container& container,
                                    const LaunchOptions& options) {
    ChildContext ctx{.id = container.state.id,
                     .spec = spec,
                     .options = options,
                     .ns = TRY(namespaces::plan(spec)),
                     .round_trip = needs_round_trip(spec),
                     .bundle = container.state.bundle};
    // Mounts in a namespace owned by another user namespace than the container's are refused.
    if (!ctx.ns.new_mount_namespace() && ctx.ns.other_user_namespace())
        return fail("linux.namespaces: a user namespace needs a new mount namespace");
    TRY(rootfs::validate(spec));
    if (spec.linux_) TRY(namespaces::check_net_devices(spec.linux_->net_devices));
    // Where SELinux is off there is nothing to label with: accepted and ignored, as crun does.
    if (spec.linux_ && !spec.linux_->mount_label.empty() && selinux_enabled())
        ctx.mount_label = spec.linux_->mount_label;
    ctx.binds_ahead =
        TRY(rootfs::build_binds_ahead(spec, ctx.ns.other_user_namespace(), joined_user(ctx.ns)));
    ctx.plan = TRY(prepare_process_plan(spec.process, spec.linux_,
                                        {.listen = socket_activation_fds(), .preserve = options.preserve_fds},
                                        ctx.ns.new_user));
    if (options.start_on_channel) return ctx;
    // Writable by others: in a user namespace the container's root is not the host's.
    if (::mkfifo(container.fifo_path().c_str(), 0622) != 0 ||
        ::chmod(container.fifo_path().c_str(), 0622) != 0)
        return fail_errno("mkfifo " + container.fifo_path());
    ctx.fifo.reset(::open(container.fifo_path().c_str(), O_PATH | O_CLOEXEC));
    if (!ctx.fifo) return fail_errno("open " + container.fifo_path());
    return ctx;
}

std::vector<int> fds_of(const std::vector<UniqueFd>& owned) {
    std::vector<int> fds;
    for (const auto& fd : owned) fds.push_back(fd.get());
    return fds;
}

// Sends the child the files that join it to its cgroups, then builds its cgroup mounts while it
// joins them and makes its first mounts. Fails only when the child is gone.
ErrorOr<void> send_cgroups(const spec::Spec& spec, const ChildContext& ctx, const cgroups::Manager& cgroups,
                           const std::vector<UniqueFd>& join_files, const SyncChannel& channel) {
    std::vector<rootfs::CgroupBind> binds;
    for (const auto& bind : cgroups.mount_binds()) binds.push_back({bind.name, bind.dir});
    TRY(channel.send(SyncMessage::joins_ready, binds_to_text(binds), fds_of(join_files)));
    // Not for a child in a user namespace other than hutch's, which must own what it mounts.
    std::vector<UniqueFd> built;
    if (!ctx.ns.other_user_namespace()) built = rootfs::build_cgroup_mounts(spec, binds);
    return channel.send(SyncMessage::cgroup_mounts, {}, fds_of(built));
}

// With systemd's driver, systemd moves the process (container.state.pid) into the scope it makes.
ErrorOr<std::unique_ptr<cgroups::Manager>> make_cgroups(Container& container, const LaunchOptions& options,
                                                        cgroups::Layout layout = cgroups::detect_layout()) {
    auto cgroups =
        options.systemd_cgroup
            ? TRY(cgroups::make_systemd_manager(options.cgroups_path, container.state.id,
                                                container.state.pid))
            : TRY(cgroups::make_manager(layout, options.cgroups_path, container.state.id, options.resources));
    container.state.cgroup_paths = cgroups::paths_before_create(*cgroups);
    TRY(container.save());
    TRY(cgroups->create(options.resources));
    log::debug("launch: cgroups made");
    return cgroups;
}

// The id of the container's rootfs mount, saved before the child attaches it: what delete unmounts.
ErrorOr<void> record_rootfs_mount(Container& container, const std::string& text) {
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id == 0)
        return fail("sync channel: a malformed rootfs mount id");
    container.state.rootfs_mount_id = id;
    return container.save();
}

// Answers the child until it reports "created".
ErrorOr<void> supervise_setup(const spec::Spec& spec, Container& container, const ChildContext& ctx,
                              const LaunchOptions& options, const SyncChannel& channel, Launched& launched) {
    if (ctx.ns.new_user) {
        TRY(namespaces::write_id_maps(launched.pid, *spec.linux_));
        // The child could never raise a hard limit from inside its user namespace.
        TRY(security::apply_rlimits(ctx.plan.rlimits, launched.pid));
        TRY(channel.send(SyncMessage::ids_mapped));
    }
    // Made while the child makes its network namespace and first mounts, on the other CPU,
    // unless the child was born in them.
    if (!launched.cgroups) launched.cgroups = TRY(make_cgroups(container, options));
    cgroups::Manager& cgroups = *launched.cgroups;
    auto join_files = TRY(cgroups.open_self_join_files());
    TRY(send_cgroups(spec, ctx, cgroups, join_files, channel));
    // Saved while the child sets up its mounts, off the critical path: no other command can read
    // it before create returns, since the container's directory is locked until then.
    container.state.pid_start_time = process_start_time(launched.pid);
    container.state.cgroup_paths = cgroups.paths();
    TRY(container.save());
    if (options.config_text) TRY(container.save_config(*options.config_text));
    log::debug("launch: state saved");
    // Queued now, read by the child once it is created: nothing that can fail is left before it.
    auto start_at_once = [&]() -> ErrorOr<void> {
        if (!options.start_at_once) return {};
        TRY(channel.send(SyncMessage::start));
        launched.start_sent = true;
        return {};
    };
    // The start queues behind the last answer the child waits for.
    bool records_rootfs = !ctx.ns.new_mount_namespace();
    if (!ctx.round_trip && !records_rootfs) TRY(start_at_once());
    for (;;) {
        auto msg = TRY(channel.receive());
        switch (msg.type) {
            case SyncMessage::rootfs_mount:
                if (!records_rootfs) return fail("sync channel: an unexpected rootfs mount");
                TRY(record_rootfs_mount(container, msg.text));
                log::debug("launch: rootfs mount recorded");
                TRY(channel.send(SyncMessage::rootfs_mount_recorded));
                if (!ctx.round_trip) TRY(start_at_once());
                break;
            case SyncMessage::run_hooks: {
                // Before the hooks, which may configure the interfaces, as runc orders them.
                launched.netns = TRY(move_net_devices_in(spec, container, launched.pid));
                // "created" as crun says it: the container is made, all but the hooks' own work.
                auto state_json = container.spec_state();
                state_json["status"] = "created";
                std::string state = json_text(state_json);
                HookSetting setting{.cwd = container.state.bundle};
                TRY(run_hooks("prestart", spec.hooks.prestart, state, setting));
                TRY(run_hooks("createRuntime", spec.hooks.create_runtime, state, setting));
                TRY(channel.send(SyncMessage::hooks_done, state));
                TRY(start_at_once());
                break;
            }
            case SyncMessage::pty_master:
                if (!msg.fds.empty()) launched.pty_master = std::move(msg.fds.front());
                break;
            case SyncMessage::seccomp_listener:
                if (msg.fds.empty()) return fail("sync channel: no seccomp listener fd");
                TRY(send_to_seccomp_listener(*spec.linux_->seccomp, container.spec_state(), launched.pid,
                                             msg.fds.front().get()));
                break;
            case SyncMessage::created: log::debug("launch: child reports created"); return {};
            case SyncMessage::error: return fail(msg.text);
            default: return fail("sync channel: unexpected message from the container process");
        }
    }
}

}  // namespace

ErrorOr<Launched> launch(const spec::Spec& spec, Container& container, const LaunchOptions& options) {
    auto ctx = prepare_child(spec, container, options);
    if (!ctx) {
        ::unlink(container.fifo_path().c_str());
        return std::unexpected(ctx.error());
    }
    log::debug("launch: prepared");
    auto [parent_end, child_end] = TRY(SyncChannel::make_pair());
    Launched launched;
    // On cgroup v2 the process is born in its cgroup (no move: no RCU grace period), which must
    // therefore exist before the clone.
    cgroups::Layout layout = cgroups::detect_layout();
    if (!options.systemd_cgroup && cgroups::creates_before_clone(layout, options.resources)) {
        auto made = make_cgroups(container, options, layout);
        if (!made) {
            ::unlink(container.fifo_path().c_str());
            return std::unexpected(made.error());
        }
        launched.cgroups = std::move(*made);
    }
    int cgroup_fd = launched.cgroups ? launched.cgroups->clone_target() : -1;
    bool born_inside = false;
    auto pid = clone_into_namespaces(ctx->ns, cgroup_fd, launched.pidfd, born_inside);
    if (!pid) {
        ::unlink(container.fifo_path().c_str());
        if (launched.cgroups) (void)launched.cgroups->destroy();
        return std::unexpected(pid.error());
    }
    if (*pid == 0) {
        parent_end.close();
        child_main(*ctx, child_end, container.lock_fd());
    }
    child_end.close();
    ctx->binds_ahead.clear();  // the child has its own copies; ours would keep the sources busy
    // Off this CPU, where the cgroups are made meanwhile; it takes its mask back at joins_ready.
    move_to(*pid, ctx->away);
    log::debug("launch: cloned");
    launched.pid = *pid;
    container.state.pid = *pid;  // before the hooks, which are given it
    auto setup = [&]() -> ErrorOr<void> {
        if (cgroup_fd >= 0 && !born_inside) TRY(launched.cgroups->add_process(*pid));
        return supervise_setup(spec, container, *ctx, options, parent_end, launched);
    }();
    if (!setup) {
        move_net_devices_out(container.state);
        ::kill(*pid, SIGKILL);
        // After the kill, so that reading what the child queued ends at its closed end: an EPIPE
        // from elsewhere (a seccomp agent gone) must not wait on a child that is still alive.
        setup = std::unexpected(parent_end.explain(setup.error()));
        ::waitpid(*pid, nullptr, 0);
        ::unlink(container.fifo_path().c_str());
        (void)unmount_shared_rootfs(container.state);
        if (launched.cgroups) (void)launched.cgroups->destroy();
        return std::unexpected(setup.error());
    }
    if (options.start_on_channel) launched.channel = std::move(parent_end);
    return launched;
}

ErrorOr<void> release_fifo(const std::string& fifo_path, int pidfd) {
    // Non-blocking open succeeds with no writer; the writer's blocking open then completes.
    UniqueFd fifo(::open(fifo_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) return fail_errno("open " + fifo_path);
    ::unlink(fifo_path.c_str());
    std::string report;
    bool writer_seen = false;
    for (;;) {
        struct pollfd fds[2] = {{fifo.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return fail_errno("poll exec.fifo");
        }
        if (fds[0].revents & POLLIN) {
            char buf[1024];
            ssize_t n = ::read(fifo.get(), buf, sizeof buf);
            if (n > 0) {
                writer_seen = true;
                report.append(buf, static_cast<size_t>(n));
                continue;
            }
        }
        // POLLHUP: the writer closed its end, by exec (close-on-exec) or by exiting.
        if (fds[0].revents & POLLHUP) break;
        if (fds[1].revents & POLLIN) {
            if (!writer_seen) return fail("the container process exited before start");
            break;
        }
    }
    if (!report.empty()) return fail(report);
    return {};
}

ErrorOr<void> release_on_channel(const SyncChannel& channel, bool start_sent) {
    if (!start_sent)
        if (auto sent = channel.send(SyncMessage::start); !sent)
            return std::unexpected(channel.explain(sent.error()));
    return channel.wait_closed();
}

}  // namespace hutch::runtime
