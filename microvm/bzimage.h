// A Linux bzImage booted through the 64-bit boot protocol (Documentation/arch/x86/boot.rst,
// "64-bit BOOT PROTOCOL"): the file is the real-mode setup code (setup_sects + 1 sectors, the
// setup header at 0x1f1 in it), which a 64-bit boot skips, and then the protected-mode kernel,
// which goes to its preferred address; the vCPU enters it in long mode at that address + 0x200,
// with RSI at the zero page (linux_boot_params.h).
//
// Everything in the image is checked before a byte is copied: it comes from the user.
#pragma once

#include <asm/bootparam.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

// Where the setup header lies in the image and in the zero page, and how far it may reach there.
constexpr uint64_t kSetupHeaderOffset = 0x1f1;
constexpr uint64_t kSetupHeaderRoom = 0x290 - kSetupHeaderOffset;  // up to edd_mbr_sig_buffer
// The 64-bit entry's offset from the start of the protected-mode kernel.
constexpr uint64_t kBzImageEntry64 = 0x200;

struct BzImage {
    setup_header header;  // the fields this VMM reads (protocol 2.12's, and later ones zero)
    // The header's bytes as the image has them, which the zero page gets (a newer kernel's
    // fields that this VMM does not know included).
    std::array<uint8_t, kSetupHeaderRoom> header_bytes{};
    uint64_t header_size = 0;
    uint64_t payload_offset = 0;  // the protected-mode kernel in the file
    uint64_t payload_size = 0;    // syssize paragraphs
    uint64_t load_address = 0;    // pref_address
    // The first address past what the kernel needs before it reads the memory map: its payload,
    // and init_size bytes from where it runs (boot.rst: "the kernel runtime start address").
    uint64_t end = 0;
};

// Whether the image holds a setup header ("HdrS" at 0x202), as every bzImage does.
bool is_bzimage(std::string_view image);
// Parses and checks the setup header: a bzImage of protocol 2.12 or later with a 64-bit entry,
// the setup code and the protected-mode kernel inside the file, a load address at or above 1 MiB.
ErrorOr<BzImage> parse_bzimage(std::string_view image);
// Checks that the kernel and its init_size fit in guest RAM, and copies the payload there.
ErrorOr<void> load_bzimage(std::string_view image, const BzImage& kernel, const GuestMemory& memory);

}  // namespace hutch::microvm
