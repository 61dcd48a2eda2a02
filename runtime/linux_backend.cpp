// The namespaces+cgroups backend: today's code behind runtime/backend.h, unchanged in behaviour.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>

#include "base/log.h"
#include "cgroups/manager.h"
#include "runtime/backend.h"
#include "runtime/event_stream.h"
#include "runtime/launch.h"
#include "runtime/net_devices.h"
#include "runtime/ps_table.h"
#include "runtime/shared_rootfs.h"

namespace hutch::runtime {
namespace {

// Kills the container's first process and waits (bounded) until the kernel has it gone.
void kill_and_wait(const ContainerState& state, cgroups::Manager& cgroups) {
    UniqueFd pidfd = open_container_pidfd(state);
    if (!pidfd) return;
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    // A paused container: cgroup v1's freezer holds the process, SIGKILL and all, until thawed.
    // Thawed after the signal, so that nothing runs on in between.
    if (cgroups.is_frozen().value_or(false)) (void)cgroups.thaw();
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    ::poll(&pfd, 1, 10000);
}

class LinuxBackend final : public Backend {
public:
    std::string_view name() const override { return ""; }

    ErrorOr<Launched> launch(const CreateOptions& options, Container& container,
                             const spec::LoadedConfig& config, RunCreate run) const override {
        const spec::Spec& spec = config.spec;
        const spec::Resources* resources =
            spec.linux_ && spec.linux_->resources ? &*spec.linux_->resources : nullptr;
        // The device nodes a container is given must also be allowed by its device cgroup.
        spec::Resources with_devices = cgroups::resources_allowing_devices(
            resources, spec.linux_ ? spec.linux_->devices : std::vector<spec::Device>{});
        return runtime::launch(spec, container,
                               {.rootfs = container.state.rootfs,
                                .preserve_fds = options.preserve_fds,
                                .no_pivot = options.no_pivot,
                                .no_new_keyring = options.no_new_keyring,
                                .cgroups_path = spec.linux_ ? spec.linux_->cgroups_path : "",
                                .systemd_cgroup = options.systemd_cgroup,
                                .resources = &with_devices,
                                .config_text = &config.text,
                                .start_on_channel = run.start_on_channel,
                                .start_at_once = run.start_on_channel && options.pid_file.empty() &&
                                                 options.console_socket.empty()});
    }

    ErrorOr<void> signal(const Container& container, Status status, int signal, bool all) const override {
        const std::string& id = container.state.id;
        auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
        if (all) {
            TRY(cgroups->signal_all(signal));
        } else {
            UniqueFd pidfd = open_container_pidfd(container.state);
            if (!pidfd) return fail("cannot kill container " + id + ": container not running");
            // By pidfd, so that a pid reused since the check cannot receive the signal.
            if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0)
                return fail_errno("kill container " + id);
        }
        // cgroup v1's freezer holds a frozen process even from SIGKILL until it is thawed: a paused
        // container that is killed is thawed, as runc does (other signals leave it paused).
        if (signal == SIGKILL && status == Status::paused) TRY_CTX(cgroups->thaw(), "kill container " + id);
        return {};
    }

    ErrorOr<void> destroy(const ContainerState& state, int held_netns) const override {
        auto cgroups = cgroups::manager_from_paths(state.cgroup_paths);
        // Before the kill: the namespace may go with the process, and the interfaces with it.
        move_net_devices_out(state, held_netns);
        kill_and_wait(state, *cgroups);
        log::debug("delete: the processes are gone");
        TRY(unmount_shared_rootfs(state));
        TRY(cgroups->destroy());
        log::debug("delete: the cgroups are gone");
        return {};
    }

    // The freezer of the container's cgroups.
    ErrorOr<void> set_paused(const Container& container, bool paused) const override {
        auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
        return paused ? cgroups->freeze() : cgroups->thaw();
    }

    // One read of the freezer's state (two on cgroup v2). A cgroup that cannot be read is not
    // frozen: the status then says what the process and the fifo say.
    bool paused(const Container& container) const override {
        if (container.state.cgroup_paths.empty()) return false;
        return cgroups::manager_from_paths(container.state.cgroup_paths)->is_frozen().value_or(false);
    }

    ErrorOr<void> update(const Container& container, const spec::Resources& resources) const override {
        return cgroups::manager_from_paths(container.state.cgroup_paths)->update(resources);
    }

    ErrorOr<std::vector<pid_t>> processes(const Container& container, Status) const override {
        return cgroups::manager_from_paths(container.state.cgroup_paths)->pids();
    }

    ErrorOr<std::string> process_table(const std::vector<pid_t>& pids,
                                       const std::vector<std::string>& ps_args) const override {
        return host_ps_table(pids, ps_args);
    }

    ErrorOr<void> events(const Container& container, Status, UniqueFd pidfd, const EventsOptions& options,
                         const EventSink& emit) const override {
        auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
        return emit_events(
            container.state.id, pidfd ? pidfd.get() : -1, [&] { return cgroups->stats(); }, options, emit);
    }
};

}  // namespace

const Backend& linux_backend() {
    static const LinuxBackend backend;
    return backend;
}

}  // namespace hutch::runtime
