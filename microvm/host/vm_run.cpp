#include "microvm/host/vm_run.h"

#include <sys/socket.h>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/host/erofs_image.h"
#include "microvm/host/host_relay.h"
#include "microvm/host/initramfs.h"
#include "microvm/host/signal_forwarding.h"
#include "microvm/host/vm_size.h"
#include "microvm/host/vmm_process.h"

namespace hutch::microvm::host {

namespace {

struct SocketPair {
    UniqueFd host, vm;
};

ErrorOr<SocketPair> socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return fail_errno("socketpair");
    return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

ErrorOr<std::unique_ptr<PreparedVm>> PreparedVm::boot(const VmRunOptions& options) {
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
    config.volumes.clear();
    for (const auto& v : options.volumes) {
        vm.shared_dirs.push_back({.path = v.source, .readonly = v.volume.readonly});
        config.volumes.push_back(v.volume);
    }

    auto control = TRY(socket_pair());
    auto stdin_port = TRY(socket_pair());
    auto console = TRY(socket_pair());
    vm.control_fd = control.vm.get();
    vm.stdin_fd = stdin_port.vm.get();
    vm.console_fd = console.vm.get();
    // The config waits in the socket until the agent reads it.
    TRY(write_all(control.host.get(), encode_frame(FrameKind::config, to_json(config))));

    auto vmm = TRY(VmmProcess::start(vm));
    // The VMM holds the VM's ends now: when it exits, the host's ends read end of file.
    control.vm.reset();
    stdin_port.vm.reset();
    console.vm.reset();
    std::optional<ExecListener> exec_listener;
    if (!options.exec_socket_dir.empty()) exec_listener = TRY(ExecListener::listen(options.exec_socket_dir));
    HostEnds ends{control.host.get(), std::move(stdin_port.host),
                  console.host.get(), options.relay_stdin,
                  config.terminal,    exec_listener ? exec_listener->fd() : -1};
    std::unique_ptr<PreparedVm> prepared(new PreparedVm(std::move(vmm), std::move(control.host),
                                                        std::move(console.host), std::move(exec_listener),
                                                        std::move(ends), options.boot_timeout_ms));
    TRY(prepared->relay_.wait_until_prepared());
    return prepared;
}

ErrorOr<int> run_in_vm(const VmRunOptions& options) {
    // From before the boot: a signal that comes meanwhile goes to the process once it runs.
    auto signals = TRY(SignalForwarding::start(options.process.terminal));
    auto vm = TRY(PreparedVm::boot(options));
    return vm->start(signals.fd());
}

}  // namespace hutch::microvm::host
