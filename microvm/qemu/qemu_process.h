// QEMU as hutch's microVM monitor: Debian's qemu-system-x86_64 -M microvm, booting hutch's guest
// kernel (its ELF vmlinux, through PVH) with the agent's initramfs, the layers as read-only
// virtio-blk disks and the agent's ports on virtio-serial, each port on a socket hutch holds the
// other end of (microvm/agent/protocol.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm::qemu {

struct QemuVm {
    std::string kernel;               // vmlinux
    std::string initramfs;            // agent_initramfs()
    std::vector<std::string> layers;  // erofs images, bottom first: hutch-layer-0 is layers[0]
    unsigned memory_mib = 512;
    std::string accel;  // "kvm" or "tcg"
    // Sockets QEMU inherits: the agent's two ports, and the serial console (also QEMU's own
    // stdout and stderr), which says why a VM died before its agent reported.
    int control_fd = -1, stdin_fd = -1, console_fd = -1;
};

// "kvm" or "tcg": HUTCH_VM_ACCEL when set, else kvm where /dev/kvm opens and the CPU has hardware
// virtualisation (vmx or svm), else tcg. A /dev/kvm without it (a software nested hypervisor such
// as kvm_pvm) runs tiny guests but not Linux.
ErrorOr<std::string> choose_accel();

// The command line (argv) that runs vm.
std::vector<std::string> qemu_command_line(const QemuVm& vm);

// A running QEMU. It dies with its owner: PR_SET_PDEATHSIG, and the destructor kills and reaps
// it, on every path.
class QemuProcess {
public:
    static ErrorOr<QemuProcess> start(const QemuVm& vm);
    QemuProcess(QemuProcess&& other) noexcept
        : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}
    QemuProcess& operator=(QemuProcess&&) = delete;
    ~QemuProcess() { kill(); }

    // Readable when QEMU has exited.
    int pidfd() const { return pidfd_.get(); }
    // Kills QEMU (SIGKILL: the VM holds nothing worth a clean stop) and reaps it; returns its
    // wait status (-1 when it was reaped already). Idempotent.
    int kill();
    // Reaps QEMU after it exited by itself: its exit code, or 128+N for signal N.
    int reap();

private:
    QemuProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    pid_t pid_ = -1;
    UniqueFd pidfd_;
};

}  // namespace hutch::microvm::qemu
