#include "microvm/host/vm_run.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/host/erofs_image.h"
#include "microvm/host/host_relay.h"
#include "microvm/host/initramfs.h"
#include "microvm/host/vm_size.h"
#include "microvm/host/vmm_process.h"

namespace hutch::microvm::host {

namespace {

constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// The forwarded signals, blocked and read from a signalfd while it lives; the mask is restored
// after (a signal that came meanwhile was forwarded, so is taken off first).
class SignalForwarding {
public:
    // With a terminal, SIGWINCH too: the relay resizes the process's terminal.
    static ErrorOr<SignalForwarding> start(bool terminal) {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : forwarded_signals) sigaddset(&set, sig);
        if (terminal) sigaddset(&set, SIGWINCH);
        SignalForwarding forwarding;
        if (::pthread_sigmask(SIG_BLOCK, &set, &forwarding.old_mask_) != 0) return fail("block signals");
        forwarding.active_ = true;
        forwarding.fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!forwarding.fd_) return fail_errno("signalfd");
        return forwarding;
    }
    SignalForwarding(SignalForwarding&& other) noexcept
        : fd_(std::move(other.fd_)),
          old_mask_(other.old_mask_),
          active_(std::exchange(other.active_, false)) {}
    ~SignalForwarding() {
        if (!active_) return;
        signalfd_siginfo info;
        while (::read(fd_.get(), &info, sizeof info) == sizeof info) {
        }
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }
    int fd() const { return fd_.get(); }

private:
    SignalForwarding() = default;
    UniqueFd fd_;
    sigset_t old_mask_{};
    bool active_ = false;
};

struct SocketPair {
    UniqueFd host, vm;
};

ErrorOr<SocketPair> socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return fail_errno("socketpair");
    return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The VM's disks: one erofs image per layer, bottom first.
ErrorOr<std::vector<std::string>> layer_images(const std::vector<std::string>& diff_dirs_top_first) {
    std::vector<std::string> images;
    for (auto it = diff_dirs_top_first.rbegin(); it != diff_dirs_top_first.rend(); ++it)
        images.push_back(TRY(layer_erofs_image(*it)));
    return images;
}

}  // namespace

ErrorOr<int> run_in_vm(const VmRunOptions& options) {
    VmSpec vm;
    vm.vmm = options.vmm;
    vm.vmm_binary = options.vmm_binary;
    vm.kernel = options.kernel;
    auto size = TRY_CTX(vm_size_for(options.process.limits, options.memory_mib), "the VM's size");
    vm.memory_mib = size.memory_mib;
    vm.vcpus = size.vcpus;
    vm.kernel_args = options.kernel_args;
    vm.initramfs = TRY(agent_initramfs(options.agent, options.cache_dir));
    vm.layers = options.images.empty() ? TRY(layer_images(options.layers)) : options.images;
    GuestConfig config = options.process;
    config.layers = static_cast<unsigned>(vm.layers.size());

    auto control = TRY(socket_pair());
    auto stdin_port = TRY(socket_pair());
    auto console = TRY(socket_pair());
    vm.control_fd = control.vm.get();
    vm.stdin_fd = stdin_port.vm.get();
    vm.console_fd = console.vm.get();
    // The config waits in the socket until the agent reads it.
    TRY(write_all(control.host.get(), encode_frame(FrameKind::config, to_json(config))));

    auto signals = TRY(SignalForwarding::start(config.terminal));
    auto vmm = TRY(VmmProcess::start(vm));
    // The VMM holds the VM's ends now: when it exits, the host's ends read end of file.
    control.vm.reset();
    stdin_port.vm.reset();
    console.vm.reset();
    HostEnds ends{control.host.get(), std::move(stdin_port.host), console.host.get(),
                  signals.fd(),       options.relay_stdin,        config.terminal};
    return relay_until_exit(std::move(ends), vmm, options.boot_timeout_ms);
}

}  // namespace hutch::microvm::host
