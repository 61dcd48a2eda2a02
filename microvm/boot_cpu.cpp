#include "microvm/boot_cpu.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <array>

#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

// A segment descriptor's access byte and flags, the way the GDT and KVM both describe it.
struct Segment {
    uint16_t selector;
    uint8_t type;      // 4 bits: code/data/system type
    bool system;       // S clear: a system segment (the TSS)
    bool default_32;   // D/B: 32-bit operands
    bool granularity;  // G: the limit counts 4 KiB pages
    uint32_t limit;    // 20 bits as stored
};

constexpr Segment kCode = {kBootCodeSelector, 0xb, false, true, true, 0xfffff};  // execute/read, accessed
constexpr Segment kData = {kBootDataSelector, 0x3, false, true, true, 0xfffff};  // read/write, accessed
// VM entry requires a usable TR of a busy TSS; the kernel never switches tasks through it.
constexpr Segment kTss = {kBootTssSelector, 0xb, true, false, false, 0x67};

// The 8-byte GDT entry for a present, ring-0 segment at base 0 (Intel SDM vol. 3, 3.4.5).
uint64_t descriptor(const Segment& s) {
    uint64_t access = 0x80 | (s.system ? 0 : 0x10) | s.type;  // P, S, type; DPL 0
    uint64_t flags = (s.granularity ? 0x8 : 0) | (s.default_32 ? 0x4 : 0);
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
    k.l = 0;
    k.g = s.granularity;
    return k;
}

constexpr uint64_t kCr0ProtectionEnable = 0x1;
constexpr uint64_t kCr0ExtensionType = 0x10;  // always set on processors since the 486
constexpr uint64_t kRflagsReserved = 0x2;     // bit 1 reads as one

}  // namespace

ErrorOr<void> write_boot_tables(const GuestMemory& memory) {
    std::array<uint64_t, 4> gdt = {0, descriptor(kCode), descriptor(kData), descriptor(kTss)};
    TRY(write_struct(memory, layout::kGdt, gdt, "boot GDT"));
    TRY(write_struct(memory, layout::kIdt, uint64_t{0}, "boot IDT"));
    return {};
}

ErrorOr<void> set_protected_mode_entry(int vcpu_fd, uint32_t entry, uint32_t ebx) {
    kvm_sregs sregs = {};
    TRY_SYS(::ioctl(vcpu_fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
    sregs.cs = kvm_segment_of(kCode);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = kvm_segment_of(kData);
    sregs.tr = kvm_segment_of(kTss);
    sregs.gdt.base = layout::kGdt;
    sregs.gdt.limit = 4 * sizeof(uint64_t) - 1;
    sregs.idt.base = layout::kIdt;
    sregs.idt.limit = sizeof(uint64_t) - 1;
    sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
    TRY_SYS(::ioctl(vcpu_fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");

    kvm_regs regs = {};
    regs.rip = entry;
    regs.rbx = ebx;
    regs.rflags = kRflagsReserved;
    TRY_SYS(::ioctl(vcpu_fd, KVM_SET_REGS, &regs), "KVM_SET_REGS");
    return {};
}

}  // namespace hutch::microvm
