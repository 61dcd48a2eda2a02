#include "microvm/host/vm_spec.h"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "microvm/agent/protocol.h"
#include "microvm/host/qemu_command.h"

namespace hutch::microvm::host {

namespace {

// The host's TSC rate in kHz, from /proc/cpuinfo's "cpu MHz" (0 when it is not there).
long host_tsc_khz() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("cpu MHz")) continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) return 0;
        return std::lround(std::strtod(line.c_str() + colon + 1, nullptr) * 1000);
    }
    return 0;
}

// hutch-vmm's: the devices are key=value lists (cli/hutch_vmm.cpp), the ports on inherited fds.
ErrorOr<std::vector<std::string>> builtin_command_line(const VmSpec& vm) {
    if (!vm.shared_dirs.empty())
        return fail("volumes need QEMU (virtio-9p): the builtin VMM shares no host directory yet");
    std::vector<std::string> argv = {
        vm.vmm_binary,
        "--kernel",
        vm.kernel,
        "--initrd",
        vm.initramfs,
        "--cmdline",
        guest_kernel_command_line(vm),
        "--memory",
        std::to_string(vm.memory_mib),
        "--vcpus",
        std::to_string(vm.vcpus),
        "--port",
        "name=" + std::string(control_port_name) + ",fd=" + std::to_string(vm.control_fd),
        "--port",
        "name=" + std::string(stdin_port_name) + ",fd=" + std::to_string(vm.stdin_fd)};
    for (size_t i = 0; i < vm.layers.size(); ++i) {
        if (vm.layers[i].find(',') != std::string::npos)
            return fail("hutch-vmm takes no disk whose path has a comma: " + vm.layers[i]);
        argv.insert(argv.end(), {"--disk", "path=" + vm.layers[i] + ",readonly=on,serial=" +
                                               std::string(layer_serial_prefix) + std::to_string(i)});
    }
    return argv;
}

}  // namespace

std::string guest_kernel_command_line(const VmSpec& vm) {
    // panic=-1 and reboot=t: a panic reboots at once by a triple fault, which ends either VMM
    // (QEMU through -no-reboot).
    std::string line = "console=ttyS0 quiet panic=-1 reboot=t";
    if (!vm.vmm.builtin && vm.vmm.qemu_accel == "tcg") {
        // microvm has no PIT-calibrated HPET or PM timer, so under TCG the kernel cannot measure
        // the TSC, and hangs without a clock. TCG's TSC counts at the host's rate: say it, and
        // that it is reliable (one counter for every vCPU).
        long khz = host_tsc_khz();
        line += " tsc=reliable tsc_early_khz=" + std::to_string(khz > 0 ? khz : 2000000);
    }
    if (!vm.kernel_args.empty()) line += " " + vm.kernel_args;
    return line;
}

ErrorOr<std::vector<std::string>> vmm_command_line(const VmSpec& vm) {
    if (vm.vmm.builtin) return builtin_command_line(vm);
    return qemu_command_line(vm);
}

}  // namespace hutch::microvm::host
