#include "microvm/linux_boot_params.h"

#include <cstddef>
#include <cstring>
#include <string>

#include "microvm/boot_layout.h"
#include "microvm/hex.h"
#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

// The offsets boot.rst gives for the fields this VMM writes.
static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(boot_params, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(boot_params, e820_entries) == 0x1e8);
static_assert(offsetof(boot_params, hdr) == kSetupHeaderOffset);
static_assert(offsetof(boot_params, hdr) + offsetof(setup_header, type_of_loader) == 0x210);
static_assert(offsetof(boot_params, hdr) + offsetof(setup_header, ramdisk_image) == 0x218);
static_assert(offsetof(boot_params, hdr) + offsetof(setup_header, cmd_line_ptr) == 0x228);
static_assert(offsetof(boot_params, e820_table) == 0x2d0);
static_assert(sizeof(boot_e820_entry) == 20);

uint32_t low32(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t high32(uint64_t value) { return static_cast<uint32_t>(value >> 32); }

// The kernel reads at most cmdline_size bytes of its command line, NUL excluded.
ErrorOr<void> check_cmdline_fits(const BzImage& kernel, std::string_view cmdline) {
    TRY(check_cmdline(cmdline));
    if (cmdline.size() > kernel.header.cmdline_size)
        return fail("kernel command line: " + std::to_string(cmdline.size()) +
                    " bytes, over the kernel's cmdline_size (" + std::to_string(kernel.header.cmdline_size) +
                    ")");
    return {};
}

// The initrd at the top of RAM, as with PVH, but wholly at or below the kernel's initrd_addr_max.
ErrorOr<uint64_t> place_linux_initrd(const GuestMemory& memory, const BzImage& kernel, uint64_t size) {
    uint64_t limit = uint64_t{kernel.header.initrd_addr_max} + 1;
    if (limit >= memory.size()) return place_initrd(memory.size(), kernel.end, size);
    auto address = place_initrd(limit, kernel.end, size);
    if (!address)
        return fail("initrd: " + std::to_string(size) + " bytes do not fit between the kernel's end (" +
                    hex(kernel.end) + ") and its initrd_addr_max (" + hex(kernel.header.initrd_addr_max) +
                    ")");
    return address;
}

ErrorOr<void> fill_e820(boot_params& params, uint64_t memory_size) {
    auto regions = guest_memory_map(memory_size);
    if (regions.size() > E820_MAX_ENTRIES_ZEROPAGE) return fail("e820 table: too many regions");
    for (size_t i = 0; i < regions.size(); ++i)
        params.e820_table[i] = {regions[i].address, regions[i].size, static_cast<uint32_t>(regions[i].type)};
    params.e820_entries = static_cast<uint8_t>(regions.size());
    return {};
}

}  // namespace

ErrorOr<uint64_t> write_linux_boot_params(const GuestMemory& memory, const BzImage& kernel,
                                          const LinuxBoot& boot) {
    TRY(check_cmdline_fits(kernel, boot.cmdline));
    uint64_t initrd = 0;
    if (!boot.initrd.empty()) initrd = TRY(place_linux_initrd(memory, kernel, boot.initrd.size()));

    // boot.rst: the setup header goes into a zeroed boot_params as the image has it, and the
    // loader then writes its own fields over it.
    boot_params params = {};
    std::memcpy(reinterpret_cast<uint8_t*>(&params) + kSetupHeaderOffset, kernel.header_bytes.data(),
                kernel.header_size);
    params.hdr.type_of_loader = kLoaderTypeUndefined;
    params.hdr.cmd_line_ptr = low32(layout::kCmdline);
    params.ext_cmd_line_ptr = high32(layout::kCmdline);
    params.hdr.ramdisk_image = low32(initrd);
    params.ext_ramdisk_image = high32(initrd);
    params.hdr.ramdisk_size = low32(boot.initrd.size());
    params.ext_ramdisk_size = high32(boot.initrd.size());
    TRY(fill_e820(params, memory.size()));

    // With its NUL: guest memory is zero to begin with, but the kernel should not rely on it.
    TRY(memory.write(layout::kCmdline, std::string(boot.cmdline) + '\0', "kernel command line"));
    if (!boot.initrd.empty()) TRY(memory.write(initrd, boot.initrd, "initrd"));
    TRY(write_struct(memory, layout::kBootParams, params, "boot_params"));
    return layout::kBootParams;
}

}  // namespace hutch::microvm
