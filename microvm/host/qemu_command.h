// QEMU as a microVM's VMM: Debian's qemu-system-x86_64 -M microvm, booting hutch's guest kernel
// (its ELF vmlinux, through PVH) with the agent's initramfs, the layers as read-only virtio-blk
// disks and the agent's ports on virtio-serial, each port on a socket hutch holds the other end
// of (microvm/agent/protocol.h).
#pragma once

#include <string>
#include <vector>

#include "microvm/host/vm_spec.h"

namespace hutch::microvm::host {

// The command line (argv) that runs vm under QEMU, with vm.vmm.qemu_accel.
std::vector<std::string> qemu_command_line(const VmSpec& vm);

}  // namespace hutch::microvm::host
