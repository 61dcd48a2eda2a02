// A container's process in a microVM of its own: the image's layers as
// erofs disks, hutch-agent as the guest's PID 1, and the caller's stdin, stdout, stderr and
// signals relayed across the VM boundary.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"
#include "microvm/host/exec_socket.h"
#include "microvm/host/host_relay.h"
#include "microvm/host/vmm_process.h"
#include "microvm/vmm_choice.h"

namespace hutch::microvm::host {

// A host directory shared into the container: its place in the guest is volume.path.
struct VmVolume {
    std::string source;  // the host's directory
    GuestVolume volume;
};

struct VmRunOptions {
    std::string kernel;               // the guest kernel's vmlinux (microvm/guest-kernel/build.sh)
    std::string agent;                // the hutch-agent binary
    std::string cache_dir;            // where the agent's initramfs is kept
    std::vector<std::string> layers;  // the layer store's diff directories, top first
    // Or erofs images already made, bottom first, used as they are (hutch-oci's microVM backend
    // packs a bundle's rootfs into one): then layers is not looked at.
    std::vector<std::string> images;
    GuestConfig process;            // its layers count and volumes are set from layers and volumes
    std::vector<VmVolume> volumes;  // under QEMU only (choose_vmm's VmNeeds)
    // The VM's memory when the process has no memory limit; with limits, vm_size_for sizes the
    // VM (memory and vCPUs) from them.
    unsigned memory_mib = 512;
    std::string kernel_args;  // appended to the guest kernel's command line
    VmmChoice vmm;            // which VMM runs it (choose_vmm)
    std::string vmm_binary;   // hutch-vmm, for the builtin VMM
    bool relay_stdin = true;  // false: the process's stdin is empty (docker run without -i)
    // From the VMM's start to the agent's prepared, and again from go to the process's start:
    // beyond it the VM is killed (a hung boot). A TCG boot takes 1-2 s, but many times that on a
    // host busy with other work.
    int boot_timeout_ms = 120'000;
    // hutch-oci's container: its state directory, where the exec socket is served (exec_socket.h)
    // from the boot on. Empty: no execs.
    std::string exec_socket_dir;
};

// A VM booted up to its process's start: the agent has mounted the process's root and waits for
// go. hutch-oci's create boots it, and its start starts the process. The VMM is killed and reaped
// when it goes, whatever happened.
class PreparedVm {
public:
    static ErrorOr<std::unique_ptr<PreparedVm>> boot(const VmRunOptions& options);
    PreparedVm(const PreparedVm&) = delete;
    PreparedVm& operator=(const PreparedVm&) = delete;

    // Until wake turns readable, answering the exec socket's requests about the created container
    // (HostRelay::serve_until).
    ErrorOr<void> serve_until(int wake) { return relay_.serve_until(wake); }

    // Starts the process and relays its stdio, and the signals that signal_fd (a signalfd; see
    // SignalForwarding) reads, until it exits; returns its exit status (128+N when killed by signal
    // N).
    ErrorOr<int> start(int signal_fd) { return relay_.start(signal_fd); }

    // The VMM's process: stopping it (SIGSTOP) stops the whole VM, which is hutch-oci's pause.
    pid_t vmm_pid() const { return vmm_.pid(); }

private:
    PreparedVm(VmmProcess vmm, UniqueFd control, UniqueFd console, std::optional<ExecListener> exec_listener,
               HostEnds ends, int boot_timeout_ms)
        : vmm_(std::move(vmm)),
          control_(std::move(control)),
          console_(std::move(console)),
          exec_listener_(std::move(exec_listener)),
          relay_(std::move(ends), vmm_, boot_timeout_ms) {}
    VmmProcess vmm_;
    UniqueFd control_, console_;  // the host's ends, which relay_ uses
    std::optional<ExecListener> exec_listener_;
    HostRelay relay_;
};

// Boots the VM, runs the process, relays until it exits, and returns its exit status (128+N when
// killed by signal N). SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to this process
// meanwhile go to the container's process; the calling thread's signal mask is restored after.
// The VMM is killed and reaped before this returns, whatever happened.
ErrorOr<int> run_in_vm(const VmRunOptions& options);

}  // namespace hutch::microvm::host
