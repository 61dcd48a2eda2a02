// A container's VM sized by its limits, as Kata Containers sizes its VMs: the limit is the VM's
// hard bound, and the agent enforces it again inside (guest_cgroup.h), where the process sees it.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

// What the guest needs beside a memory limit of limit_mib, so that the container's cgroup meets
// memory.max, and its OOM killer, before the guest as a whole runs short. Measured on the guest
// kernel (hutch run --vm, MemTotal and MemAvailable): the kernel keeps 20 MiB of a 192 MiB VM,
// 37 of 1152 and 159 of 4224 (its image, struct pages, the 32-bit hole), and the booted guest
// with the agent takes another 36, 76 and 121 MiB (slab, the initramfs, reserves that grow with
// memory): about 45 MiB and 5.6% of the VM's size in all. What the container touches (its page
// cache, its tmpfs writes) is charged to its own cgroup, so is within the limit. 128 MiB and
// 1/16 of the limit leave 80 MiB and more to spare at 64 MiB, 1 GiB and 4 GiB.
constexpr uint64_t vm_memory_overhead_mib(uint64_t limit_mib) { return 128 + limit_mib / 16; }

// The guest kernel's CONFIG_NR_CPUS (microvm/guest-kernel/config.fragment): vCPUs beyond it
// would stay offline.
inline constexpr unsigned guest_max_vcpus = 8;

struct VmSize {
    unsigned memory_mib = 0;
    unsigned vcpus = 0;
};

// Memory: the limit, in MiB rounded up, plus vm_memory_overhead_mib; default_memory_mib without
// one. A VM larger than this host's memory fails. vCPUs: ceil(cpu quota / period), 1 without,
// and at most this host's CPUs and guest_max_vcpus (the quota still holds the process to its
// share of them).
ErrorOr<VmSize> vm_size_for(const GuestLimits& limits, unsigned default_memory_mib);

// hutch-oci update's memory limit, for a VM of vm_memory_mib: it must fit as vm_size_for would
// have sized the VM for it, since a VM's memory is fixed once it booted. "No limit" (-1) fits:
// the VM is the bound.
ErrorOr<void> check_memory_limit_fits(const GuestLimits& limits, unsigned vm_memory_mib);

}  // namespace hutch::microvm::host
