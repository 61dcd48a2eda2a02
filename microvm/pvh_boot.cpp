#include "microvm/pvh_boot.h"

#include <cstring>
#include <string>

#include "microvm/boot_layout.h"
#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

ErrorOr<uint32_t> write_memmap(const GuestMemory& memory) {
    auto regions = guest_memory_map(memory.size());
    uint64_t address = layout::kMemmap;
    for (const auto& region : regions) {
        HvmMemmapEntry entry = {region.address, region.size, static_cast<uint32_t>(region.type), 0};
        if (address + sizeof entry > layout::kMemmapEnd) return fail("memory map: too many regions");
        TRY(write_struct(memory, address, entry, "memory map"));
        address += sizeof entry;
    }
    return static_cast<uint32_t>(regions.size());
}

// The initrd as the one module, at the top of RAM.
ErrorOr<void> write_initrd(const GuestMemory& memory, const PvhBoot& boot, HvmStartInfo& info) {
    if (boot.initrd.empty()) return {};
    uint64_t address = TRY(place_initrd(memory.size(), boot.kernel_end, boot.initrd.size()));
    TRY(memory.write(address, boot.initrd, "initrd"));
    HvmModlistEntry module = {address, boot.initrd.size(), 0, 0};
    TRY(write_struct(memory, layout::kPvhModlist, module, "PVH module list"));
    info.nr_modules = 1;
    info.modlist_paddr = layout::kPvhModlist;
    return {};
}

}  // namespace

ErrorOr<uint32_t> write_pvh_boot(const GuestMemory& memory, const PvhBoot& boot) {
    TRY(check_cmdline(boot.cmdline));
    HvmStartInfo info = {};
    info.magic = kPvhStartInfoMagic;
    info.version = 1;
    // With its NUL: guest memory is zero to begin with, but the check should not rely on it.
    TRY(memory.write(layout::kCmdline, std::string(boot.cmdline) + '\0', "kernel command line"));
    info.cmdline_paddr = layout::kCmdline;
    TRY(write_initrd(memory, boot, info));
    info.memmap_entries = TRY(write_memmap(memory));
    info.memmap_paddr = layout::kMemmap;
    TRY(write_struct(memory, layout::kPvhStartInfo, info, "PVH start_info"));
    return static_cast<uint32_t>(layout::kPvhStartInfo);
}

}  // namespace hutch::microvm
