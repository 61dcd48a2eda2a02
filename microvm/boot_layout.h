// What every boot protocol hands a kernel the same way: the memory map (E820 types), the
// command line, and where the initrd goes. PVH (pvh_boot.h) and, later, the bzImage boot
// protocol write these in their own structures.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::microvm {

enum class E820Type : uint32_t { ram = 1, reserved = 2 };

struct MemoryRegion {
    uint64_t address;
    uint64_t size;
    E820Type type;
};

// The guest's memory map for `memory_size` bytes of RAM at address 0: conventional memory
// below the EBDA, the legacy hole to 1 MiB reserved, then RAM to the end.
std::vector<MemoryRegion> guest_memory_map(uint64_t memory_size);

// Refuses a command line Linux would cut short or read wrongly: one that holds a NUL, or is
// longer than layout::kCmdlineMax allows.
ErrorOr<void> check_cmdline(std::string_view cmdline);

// Where an initrd of `size` bytes goes: page-aligned, as high in RAM as it fits (out of the way of
// a kernel that decompresses or relocates itself upwards), and above `kernel_end`.
ErrorOr<uint64_t> place_initrd(uint64_t memory_size, uint64_t kernel_end, uint64_t size);

// Where virtio-pmem regions of `sizes` bytes go, in order (layout::kPmemBase on): each on a
// layout::kPmemAlign boundary, none over RAM (`memory_size` bytes at 0), the MMIO hole or another,
// all below layout::kPmemEnd.
ErrorOr<std::vector<uint64_t>> place_pmem(uint64_t memory_size, std::span<const uint64_t> sizes);

}  // namespace hutch::microvm
