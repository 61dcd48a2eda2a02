// Where the VMM puts things in guest physical memory. Everything the VMM writes for the boot
// lies below 1 MiB, in the conventional memory a PC's firmware would use; the kernel loads at or
// above 1 MiB and the initrd at the top of RAM.
#pragma once

#include <cstdint>

namespace hutch::microvm::layout {

constexpr uint64_t kGdt = 0x500;  // the flat boot GDT the vCPU's segments describe
constexpr uint64_t kIdt = 0x540;  // an empty IDT: the guest installs its own before it enables interrupts
constexpr uint64_t kPvhStartInfo = 0x6000;  // hvm_start_info
constexpr uint64_t kPvhModlist = 0x6040;    // hvm_modlist_entry[] (the initrd)
constexpr uint64_t kMemmap = 0x7000;        // hvm_memmap_table_entry[]
constexpr uint64_t kMemmapEnd = 0x8000;
constexpr uint64_t kBootParams = 0x8000;  // the bzImage boot's zero page (linux_boot_params.h)
// The identity map of the low 4 GiB that a 64-bit entry runs on (boot_cpu.h): a PML4, a page
// directory pointer table, and four page directories of 2 MiB pages, to 0xf000.
constexpr uint64_t kPml4 = 0x9000;
constexpr uint64_t kPdpt = 0xa000;
constexpr uint64_t kPageDirectories = 0xb000;
constexpr uint64_t kCmdline = 0x20000;
// Linux on x86 reads at most COMMAND_LINE_SIZE (2048) bytes of its command line, NUL included,
// and drops the rest without a word: a longer one is refused instead.
constexpr uint64_t kCmdlineMax = 2048;
// Conventional memory ends where a PC's extended BIOS data area begins; from there to 1 MiB is
// the legacy ROM and video hole, reserved in the memory map.
constexpr uint64_t kEbdaStart = 0x9fc00;
constexpr uint64_t kHighMemory = 0x100000;  // 1 MiB: the lowest address a kernel segment may use
// RAM ends below the 32-bit MMIO hole (the IOAPIC at 0xfec00000, the LAPIC at 0xfee00000, and
// the pages KVM needs for its real-mode TSS and identity map): one RAM region, no split.
constexpr uint64_t kMmioHoleStart = 0xc0000000;
constexpr uint64_t kMaxMemory = kMmioHoleStart;
// The virtio-mmio devices' register pages, one after another, in the hole above RAM.
constexpr uint64_t kVirtioMmioBase = 0xd0000000;
// KVM on Intel runs real mode through vm86 and needs three pages for a TSS and one for an
// identity-mapped page table, at guest addresses no RAM or device uses.
constexpr uint64_t kKvmIdentityMap = 0xfeffc000;
constexpr uint64_t kKvmTss = 0xfeffd000;
// The 32-bit MMIO hole ends at 4 GiB.
constexpr uint64_t kMmioHoleEnd = 0x100000000;
// virtio-pmem regions (pmem_region.h), one after another from 4 GiB, above RAM and every device,
// each starting on a 128 MiB boundary: Linux's memory section, the unit in which older kernels
// (before sub-section hotplug, 5.3) can map device memory with struct pages for DAX. They end
// below 512 GiB, inside the 39 physical address bits of every x86-64 host KVM runs on.
constexpr uint64_t kPmemBase = kMmioHoleEnd;
constexpr uint64_t kPmemAlign = 128ull << 20;
constexpr uint64_t kPmemEnd = 1ull << 39;

}  // namespace hutch::microvm::layout
