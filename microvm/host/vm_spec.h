// One container's microVM as hutch boots it, whichever VMM runs it (microvm/vmm_choice.h): the
// guest kernel with the agent's initramfs, the layers as read-only virtio-blk disks, and the
// agent's two ports and the serial console on sockets hutch holds the other ends of
// (microvm/agent/protocol.h).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "microvm/vmm_choice.h"

namespace hutch::microvm::host {

// A host directory the VM shares (virtio-9p; QEMU only so far), tagged by its place in the list.
struct SharedDir {
    std::string path;
    bool readonly = false;
};

struct VmSpec {
    VmmChoice vmm;
    std::string vmm_binary;              // hutch-vmm, when vmm.builtin
    std::string kernel;                  // vmlinux
    std::string initramfs;               // agent_initramfs()
    std::vector<std::string> layers;     // erofs images, bottom first: hutch-layer-0 is layers[0]
    std::vector<SharedDir> shared_dirs;  // hutch-volume-0 is shared_dirs[0]
    unsigned memory_mib = 512;
    unsigned vcpus = 1;
    std::string kernel_args;  // appended to the kernel command line
    // Sockets the VMM inherits: the agent's two ports, and the serial console (also the VMM's own
    // stdout and stderr), which says why a VM died before its agent reported.
    int control_fd = -1, stdin_fd = -1, console_fd = -1;
};

// The guest kernel's command line, the same under either VMM but for what TCG needs.
std::string guest_kernel_command_line(const VmSpec& vm);

// The VMM's command line (argv) that runs vm: QEMU's (qemu_command.h) or hutch-vmm's.
ErrorOr<std::vector<std::string>> vmm_command_line(const VmSpec& vm);

}  // namespace hutch::microvm::host
