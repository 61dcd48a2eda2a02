#include "microvm/bzimage.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <string>

#include "microvm/hex.h"
#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS", little-endian
constexpr uint64_t kHeaderMagicOffset = 0x202;
constexpr uint16_t kBootFlag = 0xaa55;
// 2.12 brought xloadflags, which says whether the kernel has a 64-bit entry.
constexpr uint16_t kMinVersion = 0x020c;
constexpr uint8_t kShortJump = 0xeb;
constexpr uint64_t kSectorSize = 512;
constexpr uint8_t kLegacySetupSects = 4;  // what setup_sects 0 means
// The last field this VMM reads is init_size (2.10): the header must reach past it.
constexpr uint64_t kMinHeaderEnd = kSetupHeaderOffset + offsetof(setup_header, init_size) + sizeof(uint32_t);

static_assert(kSetupHeaderOffset + offsetof(setup_header, header) == kHeaderMagicOffset);
static_assert(kSetupHeaderOffset + offsetof(setup_header, xloadflags) == 0x236);
static_assert(kSetupHeaderOffset + offsetof(setup_header, pref_address) == 0x258);
static_assert(kSetupHeaderOffset + sizeof(setup_header) <= kSetupHeaderOffset + kSetupHeaderRoom);

std::string version_text(uint16_t version) {
    return std::to_string(version >> 8) + "." + std::to_string(version & 0xff);
}

// Protocol version, flags and the header's own extent: what says the 64-bit boot applies.
ErrorOr<uint64_t> check_header(const setup_header& h) {
    if (h.header != kHeaderMagic) return fail("no setup header (HdrS) at 0x202");
    if (h.boot_flag != kBootFlag) return fail("no boot sector signature 0xaa55 at 0x1fe");
    if (h.version < kMinVersion)
        return fail("boot protocol " + version_text(h.version) +
                    ": the 64-bit boot needs 2.12 or later (xloadflags)");
    if ((h.jump & 0xff) != kShortJump) return fail("no short jump over the setup header at 0x200");
    uint64_t end = kHeaderMagicOffset + (h.jump >> 8);
    if (end < kMinHeaderEnd)
        return fail("the setup header ends at " + hex(end) + ", before protocol " + version_text(h.version) +
                    "'s fields do (" + hex(kMinHeaderEnd) + ")");
    if (!(h.xloadflags & XLF_KERNEL_64))
        return fail("no 64-bit entry (XLF_KERNEL_64 is clear in xloadflags)");
    if (!(h.loadflags & LOADED_HIGH))
        return fail(
            "not loaded high (LOADED_HIGH is clear in loadflags): a zImage, which boots only in real mode");
    return std::min(end, kSetupHeaderOffset + kSetupHeaderRoom) - kSetupHeaderOffset;
}

// The setup code and the protected-mode kernel after it, both inside the file.
ErrorOr<void> check_payload(const setup_header& h, uint64_t image_size, BzImage& kernel) {
    uint64_t sects = h.setup_sects == 0 ? kLegacySetupSects : h.setup_sects;
    kernel.payload_offset = (sects + 1) * kSectorSize;
    if (kernel.payload_offset >= image_size)
        return fail("setup_sects " + std::to_string(h.setup_sects) + ": the setup code (" +
                    std::to_string(kernel.payload_offset) + " bytes) leaves nothing of the file (" +
                    std::to_string(image_size) + " bytes) for the kernel");
    kernel.payload_size = uint64_t{h.syssize} * 16;
    if (kernel.payload_size == 0) return fail("syssize 0: no protected-mode kernel");
    if (kernel.payload_size > image_size - kernel.payload_offset)
        return fail("syssize " + hex(h.syssize) + ": a kernel of " + std::to_string(kernel.payload_size) +
                    " bytes, more than the " + std::to_string(image_size - kernel.payload_offset) +
                    " after the setup code: the file is cut short");
    return {};
}

// Where the kernel goes (pref_address) and how far it reaches before it reads the memory map.
ErrorOr<void> place_kernel(const setup_header& h, BzImage& kernel) {
    if (h.pref_address < layout::kHighMemory)
        return fail("pref_address " + hex(h.pref_address) +
                    " is below 1 MiB, where the VMM puts the boot data");
    if (h.pref_address >= layout::kMaxMemory)
        return fail("pref_address " + hex(h.pref_address) + " is above the most RAM a guest has (" +
                    std::to_string(layout::kMaxMemory >> 20) + " MiB)");
    kernel.load_address = h.pref_address;
    // boot.rst's "kernel runtime start address": a relocatable kernel moves itself to the next
    // multiple of its alignment before it decompresses into init_size bytes from there.
    uint64_t runtime_start = h.pref_address;
    if (h.relocatable_kernel) {
        if (!std::has_single_bit(h.kernel_alignment))
            return fail("kernel_alignment " + hex(h.kernel_alignment) + " is not a power of two");
        runtime_start = (h.pref_address + h.kernel_alignment - 1) & ~(uint64_t{h.kernel_alignment} - 1);
    }
    kernel.end = std::max(kernel.load_address + kernel.payload_size, runtime_start + h.init_size);
    return {};
}

}  // namespace

bool is_bzimage(std::string_view image) {
    uint32_t magic = 0;
    if (image.size() < kHeaderMagicOffset + sizeof magic) return false;
    std::memcpy(&magic, image.data() + kHeaderMagicOffset, sizeof magic);
    return magic == kHeaderMagic;
}

ErrorOr<BzImage> parse_bzimage(std::string_view image) {
    if (image.size() < kSetupHeaderOffset + sizeof(setup_header))
        return fail("the setup header is cut short: the file has " + std::to_string(image.size()) +
                    " bytes, the header reaches " + hex(kSetupHeaderOffset + sizeof(setup_header)));
    BzImage kernel;
    std::memcpy(&kernel.header, image.data() + kSetupHeaderOffset, sizeof kernel.header);
    kernel.header_size = TRY(check_header(kernel.header));
    // Bytes past the header's end are setup code, not fields: zero, as an older header has them.
    if (kernel.header_size < sizeof kernel.header)
        std::memset(reinterpret_cast<uint8_t*>(&kernel.header) + kernel.header_size, 0,
                    sizeof kernel.header - kernel.header_size);
    // The setup code, at least two sectors, holds the whole header: checked before it is copied.
    TRY(check_payload(kernel.header, image.size(), kernel));
    std::memcpy(kernel.header_bytes.data(), image.data() + kSetupHeaderOffset, kernel.header_size);
    TRY(place_kernel(kernel.header, kernel));
    return kernel;
}

ErrorOr<void> load_bzimage(std::string_view image, const BzImage& kernel, const GuestMemory& memory) {
    uint64_t needed = kernel.end - kernel.load_address;
    if (!memory.contains(kernel.load_address, needed))
        return fail("the kernel needs " + std::to_string(needed) + " bytes at " + hex(kernel.load_address) +
                    " (its payload and init_size), more than guest memory (" +
                    std::to_string(memory.size() >> 20) + " MiB) holds");
    return memory.write(kernel.load_address, image.substr(kernel.payload_offset, kernel.payload_size),
                        "kernel");
}

}  // namespace hutch::microvm
