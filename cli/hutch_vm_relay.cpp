// hutch-vm-relay: the host process of a container that hutch-oci runs in a microVM
// (run.oci.handler=microvm, runtime/backend.h). It is the container's pid: `state`, `kill` and
// the wait of `run` work on it as on a linux container's process.
//
// Usage (by hutch-oci create only): hutch-vm-relay STATE_DIR ROOTFS, with fd 3 a pipe. It boots
// the VM (microvm/host/vm_run.h) for the process of STATE_DIR/config.json, up to the agent
// waiting to start it, then writes "ready" on fd 3, or one line saying why not, and closes it:
// create pays for the boot, as runc's pays for the container's set-up, and a VM that cannot boot
// fails create. Then it waits on STATE_DIR/exec.fifo for `start`, has the agent start the
// process, relays its stdio and signals, and exits with its status (128+N for signal N; 125 when
// the VM could not run it). It writes the VMM's pid in STATE_DIR/vmm.pid: hutch-oci's pause
// stops that process, and with it the whole VM. A signal before start ends it, as it would a linux
// container's waiting process. The VMM dies with it (PR_SET_PDEATHSIG), so `delete` need only kill this one.
//
// It finds the guest kernel (vmlinux, microvm/guest-kernel/build.sh) in config.json's annotation
// run.oci.microvm.kernel, else in $HUTCH_VM_KERNEL; and hutch-agent in $HUTCH_VM_AGENT, else
// beside this program. The annotation run.oci.microvm.vmm picks the VMM as hutch run's --vmm does.
//
// From the boot on, it serves STATE_DIR/exec.sock: the container's execs once the process runs,
// and before that as after, hutch-oci update, events and ps (below). An exec is
// another hutch-vm-relay (by hutch-oci exec only): hutch-vm-relay --exec STATE_DIR PROCESS_JSON,
// with fd 3 a pipe. It has the agent start PROCESS_JSON (a config.json process, with the
// container's seccomp filter) in the container, writes "ready" on fd 3 or one line saying why
// not, then relays its own stdio and signals to the exec and exits with its status: it is the
// exec's pid, as the process itself is for a linux container.
//
// hutch-oci update of a created or running container: hutch-vm-relay --update STATE_DIR LIMITS_JSON (the
// JSON of GuestLimits, microvm/agent/guest_limits.h), with fd 3 a pipe. It has the agent write
// them into the container's cgroup in the guest, then writes "ready" on fd 3, or one line saying
// why not (a memory limit the VM, sized at create, cannot hold), and exits.
//
// hutch-oci events of a created or running container: hutch-vm-relay --events STATE_DIR ID INTERVAL, with
// fd 3 a pipe and fd 4 the container's pidfd. It prints the events a linux container's would
// give (runtime/event_stream.h), a line each, from the counters the agent reads in the guest:
// every INTERVAL nanoseconds until the container stops, or one stats event for "once" (--stats).
// An error is one line on fd 3.
//
// hutch-oci ps of a created or running container: hutch-vm-relay --ps STATE_DIR, with fd 3 a pipe. It prints
// the pids of the container's processes (a JSON list, as its pid namespace in the guest numbers
// them), or writes one line on fd 3 saying why not.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "base/fd.h"
#include "base/file.h"
#include "base/terminal.h"
#include "microvm/host/cgroup_requests.h"
#include "microvm/host/exec_relay.h"
#include "microvm/host/oci_vm.h"
#include "microvm/host/relay_fds.h"
#include "microvm/host/signal_forwarding.h"
#include "microvm/host/tool.h"
#include "microvm/host/vm_run.h"
#include "microvm/host/vm_size.h"
#include "runtime/event_stream.h"
#include "spec/spec.h"

using namespace hutch;

namespace {

using microvm::host::relay_pidfd_fd;
using microvm::host::relay_ready_fd;
constexpr int vm_failed = 125;

ErrorOr<std::string> guest_kernel(const spec::Spec& spec) {
    if (auto it = spec.annotations.find("run.oci.microvm.kernel"); it != spec.annotations.end())
        return it->second;
    if (const char* env = std::getenv("HUTCH_VM_KERNEL"); env && *env) return std::string(env);
    return fail(
        "run.oci.handler=microvm: no guest kernel (set the annotation run.oci.microvm.kernel or "
        "HUTCH_VM_KERNEL)");
}

// The annotation run.oci.microvm.vmm (auto, builtin or qemu: hutch run --vmm's), else auto.
ErrorOr<microvm::VmmRequest> vmm_request(const spec::Spec& spec) {
    auto it = spec.annotations.find("run.oci.microvm.vmm");
    if (it == spec.annotations.end()) return microvm::VmmRequest::automatic;
    return TRY_CTX(microvm::parse_vmm_request(it->second), "run.oci.microvm.vmm");
}

// The annotation run.oci.microvm.disks (a JSON array of erofs images, bottom layer first: the
// `hutch` command's layer disks), each a regular file; else ROOTFS packed into one, in the state
// directory, so that it goes with the container's delete.
ErrorOr<std::vector<std::string>> root_disks(const spec::Spec& spec, const std::string& state_dir,
                                             const std::string& rootfs) {
    auto it = spec.annotations.find("run.oci.microvm.disks");
    if (it == spec.annotations.end()) {
        std::string image = state_dir + "/rootfs.erofs";
        TRY_CTX(microvm::host::run_tool({"mkfs.erofs", "--quiet", image, rootfs}),
                "erofs image of " + rootfs);
        return std::vector<std::string>{image};
    }
    auto list = nlohmann::json::parse(it->second, nullptr, false);
    std::vector<std::string> disks;
    if (!list.is_array() || list.empty()) return fail("run.oci.microvm.disks: not a JSON array of paths");
    for (const auto& disk : list) {
        std::string path = disk.is_string() ? disk.get<std::string>() : "";
        if (!path.starts_with('/')) return fail("run.oci.microvm.disks: not a JSON array of absolute paths");
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) return fail_errno("run.oci.microvm.disks: " + path);
        if (!S_ISREG(st.st_mode)) return fail("run.oci.microvm.disks: " + path + ": not a regular file");
        disks.push_back(path);
    }
    return disks;
}

// Everything before start: the process, the kernel, the agent and the root's disks.
ErrorOr<microvm::host::VmRunOptions> prepare(const std::string& state_dir, const std::string& rootfs) {
    spec::Spec spec = TRY(spec::parse_spec(TRY(read_file(state_dir + "/config.json"))));
    microvm::host::VmRunOptions options;
    options.kernel = TRY(guest_kernel(spec));
    options.agent = microvm::host::beside_self("hutch-agent", "HUTCH_VM_AGENT");
    auto vm = TRY(microvm::host::oci_vm(spec));
    options.vmm = TRY(microvm::choose_vmm(TRY(vmm_request(spec)), {.shared_dirs = !vm.volumes.empty()}));
    options.vmm_binary = microvm::host::beside_self("hutch-vmm", "HUTCH_VMM");
    options.cache_dir = state_dir;
    options.process = std::move(vm.process);
    options.volumes = std::move(vm.volumes);
    options.images = TRY(root_disks(spec, state_dir, rootfs));
    options.exec_socket_dir = state_dir;
    return options;
}

// Opened by path now, reopened for writing later: `start` unlinks the fifo once it has it open,
// which may be before this process gets there.
ErrorOr<UniqueFd> hold_fifo(const std::string& state_dir) {
    UniqueFd fifo(::open((state_dir + "/exec.fifo").c_str(), O_PATH | O_CLOEXEC));
    if (!fifo) return fail_errno("open exec.fifo");
    return fifo;
}

// Blocks until `start` opens the fifo for reading; closing it tells start the process is under way.
ErrorOr<void> wait_for_start(const UniqueFd& fifo) {
    std::string reopen = "/proc/self/fd/" + std::to_string(fifo.get());
    UniqueFd writer(::open(reopen.c_str(), O_WRONLY | O_CLOEXEC));
    if (!writer) return fail_errno("open exec.fifo for writing");
    return {};
}

// wait_for_start on a thread of its own, so that the VM's requests are served meanwhile
// (PreparedVm::serve_until): the pipe it returns turns readable once start came, with nothing in
// it, or with why waiting failed.
ErrorOr<UniqueFd> watch_for_start(UniqueFd fifo) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return fail_errno("pipe");
    UniqueFd read_end(ends[0]), write_end(ends[1]);
    std::thread([fifo = std::move(fifo), said = std::move(write_end)] {
        auto started = wait_for_start(fifo);
        if (!started) (void)write_all(said.get(), started.error().message);
    }).detach();
    return read_end;
}

// Boots the VM and holds exec.fifo; the error is what create says.
struct Booted {
    std::unique_ptr<microvm::host::PreparedVm> vm;
    UniqueFd fifo;
    bool terminal = false;
};

ErrorOr<Booted> boot(const std::string& state_dir, const std::string& rootfs) {
    auto options = TRY(prepare(state_dir, rootfs));
    auto vm = TRY(microvm::host::PreparedVm::boot(options));
    TRY(write_file_atomic(state_dir + "/vmm.pid", std::to_string(vm->vmm_pid())));
    UniqueFd fifo = TRY(hold_fifo(state_dir));
    return Booted{std::move(vm), std::move(fifo), options.process.terminal};
}

// With a terminal, this program's stdin is the terminal that the guest's pty is joined to: the
// console socket's pty (hutch-oci create made this process its session's leader, so that it
// becomes the controlling terminal and a resize comes as SIGWINCH), or the caller's (`run`). Raw,
// so that the bytes reach the guest's pty as they were typed: it does the echo and line editing.
ErrorOr<int> start(microvm::host::PreparedVm& vm, UniqueFd fifo, bool terminal) {
    if (terminal) ::ioctl(STDIN_FILENO, TIOCSCTTY, 0);
    UniqueFd started = TRY(watch_for_start(std::move(fifo)));
    TRY(vm.serve_until(started.get()));
    if (std::string why = TRY(read_all(started.get())); !why.empty()) return fail(why);
    std::optional<RawTerminal> raw;
    if (terminal) raw.emplace();
    auto signals = TRY(microvm::host::SignalForwarding::start(terminal));
    return vm.start(signals.fd());
}

// The exec's process, ready once the agent has started it.
ErrorOr<microvm::host::ExecRelay> start_exec(const std::string& state_dir, const std::string& process_json) {
    spec::Spec spec = TRY(spec::parse_spec(TRY(read_file(state_dir + "/config.json"))));
    spec::Process process = TRY_CTX(spec::parse_process_json(process_json), "the exec's process");
    auto guest =
        TRY(microvm::host::guest_process(process, spec.linux_ ? spec.linux_->seccomp : std::nullopt));
    return microvm::host::ExecRelay::start(state_dir, std::move(guest));
}

// As the container's relay does: with a terminal, stdin is the one joined to the exec's pty.
ErrorOr<int> run_exec(microvm::host::ExecRelay& exec, bool terminal) {
    if (terminal) ::ioctl(STDIN_FILENO, TIOCSCTTY, 0);
    std::optional<RawTerminal> raw;
    if (terminal) raw.emplace();
    auto signals = TRY(microvm::host::SignalForwarding::start(terminal));
    return exec.run(signals.fd());
}

int exec_main(const std::string& state_dir, const std::string& process_json) {
    auto exec = start_exec(state_dir, process_json);
    (void)write_all(relay_ready_fd, exec ? std::string("ready") : exec.error().message);
    ::close(relay_ready_fd);
    if (!exec) return vm_failed;
    auto status = run_exec(*exec, exec->terminal());
    if (!status) {
        std::fprintf(stderr, "hutch-vm-relay: %s\n", status.error().message.c_str());
        return vm_failed;
    }
    return *status;
}

// The limits, once they are seen to fit the VM that config.json's limits sized.
ErrorOr<void> update_limits(const std::string& state_dir, const std::string& limits_json) {
    auto limits = TRY(microvm::parse_guest_limits(limits_json));
    spec::Spec spec = TRY(spec::parse_spec(TRY(read_file(state_dir + "/config.json"))));
    auto created = spec.linux_ && spec.linux_->resources ? microvm::guest_limits(*spec.linux_->resources)
                                                         : microvm::GuestLimits{};
    auto size = TRY(microvm::host::vm_size_for(created, microvm::host::VmRunOptions{}.memory_mib));
    TRY(microvm::host::check_memory_limit_fits(limits, size.memory_mib));
    return microvm::host::update_vm_limits(state_dir, limits);
}

int update_main(const std::string& state_dir, const std::string& limits_json) {
    auto updated = update_limits(state_dir, limits_json);
    (void)write_all(relay_ready_fd, updated ? std::string("ready") : updated.error().message);
    return updated ? 0 : 1;
}

ErrorOr<runtime::EventsOptions> events_options(std::string_view interval) {
    runtime::EventsOptions options;
    if (interval == "once") {
        options.stats = true;
        return options;
    }
    int64_t ns = 0;
    auto [end, ec] = std::from_chars(interval.data(), interval.data() + interval.size(), ns);
    if (ec != std::errc() || end != interval.data() + interval.size() || ns <= 0)
        return fail("--events: not an interval in nanoseconds: " + std::string(interval));
    options.interval = std::chrono::nanoseconds(ns);
    return options;
}

int events_main(const std::string& state_dir, const std::string& id, std::string_view interval) {
    auto options = events_options(interval);
    // Its reader gone (hutch-oci events killed, or ended by its own reader's going), the stream
    // has nobody to go to: it ends at the next line, as `yes | head` does, rather than run on
    // until the container stops.
    auto print = [](const std::string& line) {
        if (std::printf("%s\n", line.c_str()) < 0 || std::fflush(stdout) != 0) std::exit(0);
    };
    int pidfd = ::fcntl(relay_pidfd_fd, F_GETFD) >= 0 ? relay_pidfd_fd : -1;
    auto done = options
                    ? runtime::emit_events(
                          id, pidfd, [&] { return microvm::host::read_vm_stats(state_dir); }, *options, print)
                    : std::unexpected(options.error());
    if (!done) (void)write_all(relay_ready_fd, done.error().message);
    return done ? 0 : 1;
}

int ps_main(const std::string& state_dir) {
    auto pids = microvm::host::list_vm_processes(state_dir);
    if (!pids) {
        (void)write_all(relay_ready_fd, pids.error().message);
        return 1;
    }
    std::printf("%s\n", microvm::pids_json(*pids).c_str());
    return 0;
}

int container_main(const std::string& state_dir, const std::string& rootfs) {
    auto booted = boot(state_dir, rootfs);
    (void)write_all(relay_ready_fd, booted ? std::string("ready") : booted.error().message);
    ::close(relay_ready_fd);
    if (!booted) return vm_failed;
    auto& [vm, fifo, terminal] = *booted;
    auto status = start(*vm, std::move(fifo), terminal);
    if (!status) {
        std::fprintf(stderr, "hutch-vm-relay: %s\n", status.error().message.c_str());
        return vm_failed;
    }
    return *status;
}

}  // namespace

int main(int argc, char** argv) {
    // A write to an exec's connection, or to a caller gone, fails instead of killing the relay.
    ::signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && std::string_view(argv[1]) == "--exec") return exec_main(argv[2], argv[3]);
    if (argc == 4 && std::string_view(argv[1]) == "--update") return update_main(argv[2], argv[3]);
    if (argc == 5 && std::string_view(argv[1]) == "--events") return events_main(argv[2], argv[3], argv[4]);
    if (argc == 3 && std::string_view(argv[1]) == "--ps") return ps_main(argv[2]);
    if (argc == 3) return container_main(argv[1], argv[2]);
    std::fprintf(
        stderr,
        "usage (by hutch-oci): hutch-vm-relay STATE_DIR ROOTFS, --exec STATE_DIR PROCESS_JSON, --update "
        "STATE_DIR LIMITS_JSON, --events STATE_DIR ID INTERVAL, --ps STATE_DIR\n");
    return vm_failed;
}
