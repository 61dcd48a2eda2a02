// The boot vCPU's state at a kernel's 32-bit entry (the PVH entry, and later the bzImage's):
// protected mode with paging off, flat 4 GiB code and data segments from a GDT in guest memory,
// interrupts off. Only EBX differs by protocol: PVH passes the hvm_start_info address there.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

// The selectors of the boot GDT (layout::kGdt): the entries a kernel's entry code expects when
// it reloads the segment registers before it loads its own GDT.
constexpr uint16_t kBootCodeSelector = 0x08;
constexpr uint16_t kBootDataSelector = 0x10;
constexpr uint16_t kBootTssSelector = 0x18;

// Writes the boot GDT and an empty IDT below 1 MiB.
ErrorOr<void> write_boot_tables(const GuestMemory& memory);
// Sets vCPU `vcpu_fd`'s registers to enter at `entry` in 32-bit protected mode with `ebx`.
ErrorOr<void> set_protected_mode_entry(int vcpu_fd, uint32_t entry, uint32_t ebx);

}  // namespace hutch::microvm
