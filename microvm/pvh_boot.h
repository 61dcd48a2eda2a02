// The PVH boot protocol (Xen's, which Linux and KVM VMMs share): the vCPU enters the kernel's
// 32-bit entry with EBX pointing at an hvm_start_info that gives the command line, the modules
// (the initrd) and the memory map. Layouts from Xen's public header
// xen/include/public/arch-x86/hvm/start_info.h, version 1.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

constexpr uint32_t kPvhStartInfoMagic = 0x336ec578;

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;  // 0: no ACPI tables
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;  // E820 types
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

struct PvhBoot {
    std::string_view cmdline;
    std::string_view initrd;  // empty: none
    uint64_t kernel_end = 0;  // the first address past the kernel's segments
};

// Writes the command line, the initrd, the memory map and the start_info into guest memory;
// returns the start_info's address, for EBX.
ErrorOr<uint32_t> write_pvh_boot(const GuestMemory& memory, const PvhBoot& boot);

}  // namespace hutch::microvm
