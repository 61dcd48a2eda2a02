// A running VMM (QEMU or hutch-vmm), one per microVM. It dies with its owner: PR_SET_PDEATHSIG,
// and the destructor kills and reaps it, on every path.
#pragma once

#include <sys/types.h>

#include <utility>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/host/vm_spec.h"

namespace hutch::microvm::host {

class VmmProcess {
public:
    // Starts vmm_command_line(vm) with stdin on /dev/null, stdout and stderr on vm.console_fd, and
    // vm's three sockets its only other fds.
    static ErrorOr<VmmProcess> start(const VmSpec& vm);
    VmmProcess(VmmProcess&& other) noexcept
        : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}
    VmmProcess& operator=(VmmProcess&&) = delete;
    ~VmmProcess() { kill(); }

    // Readable when the VMM has exited.
    int pidfd() const { return pidfd_.get(); }
    pid_t pid() const { return pid_; }
    // Kills the VMM (SIGKILL: the VM holds nothing worth a clean stop) and reaps it; returns its
    // wait status (-1 when it was reaped already). Idempotent.
    int kill();
    // Reaps the VMM after it exited by itself: its exit code, or 128+N for signal N.
    int reap();

private:
    VmmProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    pid_t pid_ = -1;
    UniqueFd pidfd_;
};

}  // namespace hutch::microvm::host
