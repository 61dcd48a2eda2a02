#include "microvm/boot_cpu.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <array>
#include <vector>

#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

// A segment descriptor's access byte and flags, the way the GDT and KVM both describe it.
struct Segment {
    uint16_t selector;
    uint8_t type;      // 4 bits: code/data/system type
    bool system;       // S clear: a system segment (the TSS)
    bool default_32;   // D/B: 32-bit operands
    bool long_mode;    // L: 64-bit code
    bool granularity;  // G: the limit counts 4 KiB pages
    uint32_t limit;    // 20 bits as stored
};

// Execute/read and read/write, accessed; a 64-bit code segment has L set and D clear.
constexpr Segment kCode32 = {kBootCode32Selector, 0xb, false, true, false, true, 0xfffff};
constexpr Segment kCode64 = {kBootCode64Selector, 0xb, false, false, true, true, 0xfffff};
constexpr Segment kData = {kBootDataSelector, 0x3, false, true, false, true, 0xfffff};
// VM entry requires a usable TR of a busy TSS; the kernel never switches tasks through it.
constexpr Segment kTss = {kBootTssSelector, 0xb, true, false, false, false, 0x67};

// The 8-byte GDT entry for a present, ring-0 segment at base 0 (Intel SDM vol. 3, 3.4.5).
uint64_t descriptor(const Segment& s) {
    uint64_t access = 0x80 | (s.system ? 0 : 0x10) | s.type;  // P, S, type; DPL 0
    uint64_t flags = (s.granularity ? 0x8 : 0) | (s.default_32 ? 0x4 : 0) | (s.long_mode ? 0x2 : 0);
    return (s.limit & 0xffff) | (access << 40) | (static_cast<uint64_t>(s.limit >> 16) << 48) | (flags << 52);
}

kvm_segment kvm_segment_of(const Segment& s) {
    kvm_segment k = {};
    k.base = 0;
    k.limit = s.granularity ? (s.limit << 12) | 0xfff : s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = 1;
    k.dpl = 0;
    k.db = s.default_32;
    k.s = !s.system;
    k.l = s.long_mode;
    k.g = s.granularity;
    return k;
}

// In selector order: the null descriptor first.
constexpr std::array kGdtSegments = {kCode32, kCode64, kData, kTss};
static_assert(kCode32.selector == 0x08 && kCode64.selector == 0x10 && kData.selector == 0x18 &&
              kTss.selector == 0x20);
static_assert(layout::kGdt + (kGdtSegments.size() + 1) * sizeof(uint64_t) <= layout::kIdt);

constexpr uint64_t kCr0ProtectionEnable = 0x1;
constexpr uint64_t kCr0ExtensionType = 0x10;  // always set on processors since the 486
constexpr uint64_t kCr0Paging = 0x80000000;
constexpr uint64_t kCr4Pae = 0x20;
constexpr uint64_t kEferLme = 0x100;
constexpr uint64_t kEferLma = 0x400;
constexpr uint64_t kRflagsReserved = 0x2;  // bit 1 reads as one

constexpr uint64_t kPagePresentWritable = 0x3;
constexpr uint64_t kPageLarge = 0x80;  // a 2 MiB page in a page directory entry
constexpr uint64_t kLargePageSize = 2ull << 20;
constexpr uint64_t kEntriesPerTable = 512;
constexpr uint64_t kPageDirectoryCount = 4;  // 4 GiB: RAM, the virtio devices, the IOAPIC and LAPIC

// Every 2 MiB page of the low 4 GiB at its own address: the kernel, the zero page, the command
// line and the initrd wherever RAM puts them, and the devices in the hole above RAM.
ErrorOr<void> write_identity_map(const GuestMemory& memory) {
    std::vector<uint64_t> directories(kPageDirectoryCount * kEntriesPerTable);
    for (uint64_t i = 0; i < directories.size(); ++i)
        directories[i] = i * kLargePageSize | kPageLarge | kPagePresentWritable;
    std::array<uint64_t, kPageDirectoryCount> pdpt{};
    for (uint64_t i = 0; i < kPageDirectoryCount; ++i)
        pdpt[i] = (layout::kPageDirectories + i * 4096) | kPagePresentWritable;
    TRY(memory.write(layout::kPageDirectories,
                     std::span(reinterpret_cast<const uint8_t*>(directories.data()), directories.size() * 8),
                     "boot page directories"));
    TRY(write_struct(memory, layout::kPdpt, pdpt, "boot page directory pointer table"));
    TRY(write_struct(memory, layout::kPml4, layout::kPdpt | kPagePresentWritable, "boot PML4"));
    return {};
}

// The segments and descriptor tables both entries share; `code` is the one that differs.
void set_segments(kvm_sregs& sregs, const Segment& code) {
    sregs.cs = kvm_segment_of(code);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = kvm_segment_of(kData);
    sregs.tr = kvm_segment_of(kTss);
    sregs.gdt.base = layout::kGdt;
    sregs.gdt.limit = (kGdtSegments.size() + 1) * sizeof(uint64_t) - 1;
    sregs.idt.base = layout::kIdt;
    sregs.idt.limit = sizeof(uint64_t) - 1;
}

}  // namespace

ErrorOr<void> write_boot_tables(const GuestMemory& memory) {
    std::array<uint64_t, kGdtSegments.size() + 1> gdt{};
    for (size_t i = 0; i < kGdtSegments.size(); ++i) gdt[i + 1] = descriptor(kGdtSegments[i]);
    TRY(write_struct(memory, layout::kGdt, gdt, "boot GDT"));
    TRY(write_struct(memory, layout::kIdt, uint64_t{0}, "boot IDT"));
    return write_identity_map(memory);
}

ErrorOr<void> set_boot_entry(int vcpu_fd, const BootEntry& entry) {
    bool long_mode = entry.mode == BootEntry::Mode::long_64;
    kvm_sregs sregs = {};
    TRY_SYS(::ioctl(vcpu_fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
    set_segments(sregs, long_mode ? kCode64 : kCode32);
    sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType | (long_mode ? kCr0Paging : 0);
    sregs.cr3 = long_mode ? layout::kPml4 : 0;
    sregs.cr4 = long_mode ? kCr4Pae : 0;
    sregs.efer = long_mode ? kEferLme | kEferLma : 0;
    TRY_SYS(::ioctl(vcpu_fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");

    kvm_regs regs = {};
    regs.rip = entry.rip;
    (long_mode ? regs.rsi : regs.rbx) = entry.boot_data;
    regs.rflags = kRflagsReserved;
    TRY_SYS(::ioctl(vcpu_fd, KVM_SET_REGS, &regs), "KVM_SET_REGS");
    return {};
}

}  // namespace hutch::microvm
