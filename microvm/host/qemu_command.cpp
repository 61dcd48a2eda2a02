#include "microvm/host/qemu_command.h"

#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

namespace {

// QEMU's option parser splits at commas; a comma in a value is written twice.
std::string escape_option(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',') out += ',';
    }
    return out;
}

void add_chardev_port(std::vector<std::string>& argv, const std::string& id, int fd, std::string_view name) {
    argv.insert(argv.end(), {"-chardev", "socket,id=" + id + ",fd=" + std::to_string(fd), "-device",
                             "virtserialport,chardev=" + id + ",name=" + std::string(name)});
}

}  // namespace

std::vector<std::string> qemu_command_line(const VmSpec& vm) {
    std::vector<std::string> argv = {"qemu-system-x86_64",
                                     "-M",
                                     "microvm",
                                     "-accel",
                                     vm.vmm.qemu_accel,
                                     "-cpu",
                                     vm.vmm.qemu_accel == "kvm" ? "host" : "max",
                                     "-smp",
                                     std::to_string(vm.vcpus),
                                     "-m",
                                     std::to_string(vm.memory_mib),
                                     "-nodefaults",
                                     "-no-user-config",
                                     "-display",
                                     "none",
                                     "-no-reboot",
                                     "-chardev",
                                     "socket,id=console,fd=" + std::to_string(vm.console_fd),
                                     "-serial",
                                     "chardev:console",
                                     "-kernel",
                                     vm.kernel,
                                     "-initrd",
                                     vm.initramfs,
                                     "-append",
                                     guest_kernel_command_line(vm),
                                     "-device",
                                     "virtio-serial-device"};
    add_chardev_port(argv, "control", vm.control_fd, control_port_name);
    add_chardev_port(argv, "stdin", vm.stdin_fd, stdin_port_name);
    for (size_t i = 0; i < vm.layers.size(); ++i) {
        std::string id = "layer" + std::to_string(i);
        argv.insert(
            argv.end(),
            {"-drive", "if=none,id=" + id + ",format=raw,readonly=on,file=" + escape_option(vm.layers[i]),
             "-device",
             "virtio-blk-device,drive=" + id + ",serial=" + std::string(layer_serial_prefix) +
                 std::to_string(i)});
    }
    for (size_t i = 0; i < vm.shared_dirs.size(); ++i) {
        std::string id = "volume" + std::to_string(i);
        // passthrough: files keep the guest's owners and modes on the host, as a bind mount's do.
        std::string fsdev = "local,id=" + id + ",path=" + escape_option(vm.shared_dirs[i].path) +
                            ",security_model=passthrough" +
                            (vm.shared_dirs[i].readonly ? ",readonly=on" : "");
        argv.insert(argv.end(), {"-fsdev", fsdev, "-device",
                                 "virtio-9p-device,fsdev=" + id +
                                     ",mount_tag=" + std::string(volume_tag_prefix) + std::to_string(i)});
    }
    return argv;
}

}  // namespace hutch::microvm::host
