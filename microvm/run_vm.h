// Runs a microVM to its end: boots a kernel image on the builtin VMM and returns the exit code
// the guest gives through the exit device (exit_device.h). Later the backend of `hutch run --vm`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "microvm/virtio_console.h"

namespace hutch::microvm {

// A virtio-blk disk (virtio_blk.h) on a host file.
struct DiskConfig {
    std::string path;
    bool read_only = false;
    // What GET_ID answers (Linux's /sys/block/vdX/serial), at most 20 bytes; empty: the file's name.
    std::string serial;
};

// A virtio-pmem device (virtio_pmem.h) on a host file, mapped into the guest above 4 GiB.
struct PmemConfig {
    std::string path;
    bool read_only = true;
};

struct VmConfig {
    std::string kernel;   // path of an ELF image with a PVH entry, or of a bzImage (kernel_image.h)
    std::string initrd;   // path; empty: none
    std::string cmdline;  // the VMM appends its devices' virtio_mmio.device= to it
    std::vector<DiskConfig> disks;
    std::vector<PmemConfig> pmem;  // after the disks, in their virtio-mmio slots and interrupt lines
    // The virtio-console's ports (virtio_console.h), each on a host socket; the device, after the
    // pmem, exists when there is one.
    std::vector<ConsolePort> console_ports;
    uint32_t memory_mib = 128;
    uint32_t vcpus = 1;
    bool merge_memory = false;  // KSM (GuestMemory::create)
    int console_fd = -1;        // where the serial console's output goes; not owned; -1: nowhere
    // What the guest reads from the serial console (serial_input.h): a pipe, socket or terminal,
    // not owned; -1: no input.
    int serial_input_fd = -1;
    // How long the guest may run before the VMM stops it and fails; zero: no limit.
    std::chrono::milliseconds timeout{0};
};

constexpr uint32_t kMinMemoryMib = 2;  // the boot data below 1 MiB and a kernel above
constexpr uint32_t kMaxVcpus = 254;
// Each virtio device has an IOAPIC pin of its own, from 5 (after the PIT's 0, the keyboard's 1,
// the cascade's 2 and COM2's and COM1's 3 and 4) to the IOAPIC's last, 23.
constexpr uint32_t kVirtioFirstGsi = 5;
constexpr uint32_t kMaxVirtioDevices = 23 - kVirtioFirstGsi + 1;  // disks, pmem and console together

ErrorOr<int> run_vm(const VmConfig& config);

}  // namespace hutch::microvm
