// An ELF kernel image booted through the PVH entry: Linux's uncompressed vmlinux (ELF64), or a
// freestanding guest (ELF32 or ELF64). Its PT_LOAD segments go to their physical addresses, and
// its entry is the 32-bit one that the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18, name
// "Xen") gives, not e_entry, which for vmlinux is a 64-bit virtual address.
//
// Everything in the image is checked before a byte is copied: it comes from the user.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

struct ElfSegment {
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t address;  // physical
    uint64_t memory_size;
};

struct ElfKernel {
    std::vector<ElfSegment> segments;
    uint32_t pvh_entry = 0;
    uint64_t end = 0;  // the first address past the highest segment
};

// Parses and checks the image's structure: headers, segments inside the file, the PVH note,
// the entry inside a segment.
ErrorOr<ElfKernel> parse_elf_kernel(std::string_view image);
// Checks that the segments fit in guest RAM at or above 1 MiB (below is the VMM's), and copies
// them there, zeroing each segment's tail past its file bytes (its .bss).
ErrorOr<void> load_elf_kernel(std::string_view image, const ElfKernel& kernel, const GuestMemory& memory);

}  // namespace hutch::microvm
