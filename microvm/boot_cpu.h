// The boot vCPU's state at a kernel's entry, by boot protocol: the PVH entry in 32-bit protected
// mode with paging off and EBX at the hvm_start_info; a bzImage's 64-bit entry in long mode on an
// identity map of the low 4 GiB, with RSI at the zero page. Either way flat segments from one
// GDT in guest memory, and interrupts off.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

// The selectors of the boot GDT (layout::kGdt). The 64-bit boot protocol fixes two: __BOOT_CS
// 0x10 and __BOOT_DS 0x18, which Linux's entry code reloads before it loads its own GDT; PVH
// leaves them to the VMM, and takes a 32-bit code segment.
constexpr uint16_t kBootCode32Selector = 0x08;
constexpr uint16_t kBootCode64Selector = 0x10;
constexpr uint16_t kBootDataSelector = 0x18;
constexpr uint16_t kBootTssSelector = 0x20;

struct BootEntry {
    enum class Mode { protected_32, long_64 };
    Mode mode;
    uint64_t rip;
    uint64_t boot_data;  // EBX in protected mode (PVH), RSI in long mode (the bzImage boot)
};

// Writes the boot GDT, an empty IDT and the identity-mapped page tables below 1 MiB.
ErrorOr<void> write_boot_tables(const GuestMemory& memory);
// Sets vCPU `vcpu_fd`'s registers to enter the kernel at `entry`.
ErrorOr<void> set_boot_entry(int vcpu_fd, const BootEntry& entry);

}  // namespace hutch::microvm
