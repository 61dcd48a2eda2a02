// hutch run --vm: the container's process in a microVM of its own (microvm/host/), with its
// own kernel. In the foreground without a name it goes straight to its VM: the image's layers go
// to the VM as erofs disks, shared by every VM of the image; the limits size the VM and the agent
// enforces them inside (microvm/host/vm_size.h); with -t the process gets a pty in the guest,
// joined to the caller's terminal. With -d or --name (and for create) it is a container of the
// store like any other, whose runtime side is hutch-oci's microVM backend
// (run.oci.handler=microvm): ps, logs, stats, stop and rm work on it, and its root is the image's layer
// disks, as in the foreground. What the VM's agent does not apply yet is refused here, never
// silently dropped.
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/terminal.h"
#include "cli/hutch/backend_choice.h"
#include "cli/hutch/container_verbs.h"
#include "microvm/host/erofs_image.h"
#include "microvm/host/tool.h"
#include "microvm/host/vm_run.h"

namespace hutch::cli {
namespace {

ErrorOr<void> refuse_unsupported(const RunFlags& flags) {
    auto refuse = [](const std::string& flag) { return fail("--vm with " + flag + ": not supported yet"); };
    if (flags.network != "none") return refuse("--network " + flags.network);
    return {};
}

}  // namespace

ErrorOr<RunFlags> as_microvm_container(const RunFlags& flags) {
    TRY(refuse_unsupported(flags));
    TRY(microvm::parse_vmm_request(flags.vmm));
    RunFlags vm = flags;
    vm.annotations.push_back("run.oci.handler=microvm");
    vm.annotations.push_back("run.oci.microvm.kernel=" + TRY(vm_kernel_path(flags)));
    vm.annotations.push_back("run.oci.microvm.vmm=" + flags.vmm);
    return vm;
}

ErrorOr<void> add_microvm_disks(const std::vector<std::string>& lowers, spec::ContainerConfig& config) {
    auto handler = config.annotations.find("run.oci.handler");
    if (handler == config.annotations.end() || handler->second != "microvm") return {};
    nlohmann::json disks = TRY(microvm::host::layer_images(lowers));
    config.annotations["run.oci.microvm.disks"] = disks.dump();
    return {};
}

ErrorOr<int> run_in_microvm(const Storage& storage, const RunFlags& flags) {
    TRY(refuse_unsupported(flags));
    microvm::host::VmRunOptions options;
    options.kernel = TRY(vm_kernel_path(flags));
    options.agent = microvm::host::beside_self("hutch-agent", "HUTCH_VM_AGENT");
    auto container = TRY(set_up_vm_container(storage, flags));
    options.vmm = TRY(microvm::choose_vmm(TRY(microvm::parse_vmm_request(flags.vmm)),
                                          {.shared_dirs = !container.volumes.empty()}));
    options.vmm_binary = microvm::host::beside_self("hutch-vmm", "HUTCH_VMM");
    log::debug("hutch: microVM on " + options.vmm.reason);
    options.cache_dir = storage.storage_root + "/vm";
    options.layers = container.lowers;
    options.process = container.process;
    options.volumes = container.volumes;
    options.relay_stdin = flags.interactive;
    options.process.terminal = flags.tty;
    if (!flags.tty) return microvm::host::run_in_vm(options);
    if (auto ws = caller_window_size())
        options.process.window_size = {.rows = ws->ws_row, .cols = ws->ws_col};
    // Raw from the boot on, restored however the VM ends: keys go to the guest's pty unchanged.
    RawTerminal raw;
    return microvm::host::run_in_vm(options);
}

}  // namespace hutch::cli
