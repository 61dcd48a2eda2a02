// The bzImage loader and the zero page of Linux's 64-bit boot protocol (microvm/bzimage.h,
// microvm/linux_boot_params.h), without KVM: an image comes from the user, so every hostile one
// built here must fail with one line before a byte is copied, and a good one must land where
// boot.rst says.
#include <asm/bootparam.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "microvm/boot_layout.h"
#include "microvm/bzimage.h"
#include "microvm/guest_memory.h"
#include "microvm/linux_boot_params.h"

using namespace hutch::microvm;

namespace {

// The setup header of a bzImage with `payload` after its setup sectors.
struct BzSpec {
    uint8_t setup_sects = 1;
    uint16_t version = 0x020f;
    uint8_t jump_length = 0x6a;  // to 0x26c: every field of protocol 2.15
    uint8_t loadflags = LOADED_HIGH;
    uint16_t xloadflags = XLF_KERNEL_64;
    uint64_t pref_address = 0x100000;
    uint32_t init_size = 0x20000;
    uint8_t relocatable = 0;
    uint32_t kernel_alignment = 0x200000;
    uint32_t cmdline_size = 2047;
    uint32_t initrd_addr_max = 0x7fffffff;
    std::string payload = std::string(0x200, '\x0b') + "64-bit entry" + std::string(0x1f4, '\xf4');
};

std::string make_bzimage(const BzSpec& spec) {
    setup_header h = {};
    h.setup_sects = spec.setup_sects;
    h.syssize = static_cast<uint32_t>((spec.payload.size() + 15) / 16);
    h.boot_flag = 0xaa55;
    h.jump = static_cast<uint16_t>(0xeb | spec.jump_length << 8);
    std::memcpy(&h.header, "HdrS", 4);
    h.version = spec.version;
    h.loadflags = spec.loadflags;
    h.code32_start = 0x100000;
    h.initrd_addr_max = spec.initrd_addr_max;
    h.kernel_alignment = spec.kernel_alignment;
    h.relocatable_kernel = spec.relocatable;
    h.xloadflags = spec.xloadflags;
    h.cmdline_size = spec.cmdline_size;
    h.pref_address = spec.pref_address;
    h.init_size = spec.init_size;
    uint64_t sects = spec.setup_sects == 0 ? 4 : spec.setup_sects;
    std::string image((sects + 1) * 512, '\0');
    std::memcpy(image.data() + 0x1f1, &h, sizeof h);
    return image + spec.payload;
}

GuestMemory memory_of(uint64_t mib) {
    auto memory = GuestMemory::create(mib << 20);
    REQUIRE(memory);
    return std::move(*memory);
}

std::string parse_error(const std::string& image) {
    auto kernel = parse_bzimage(image);
    REQUIRE_FALSE(kernel);
    return kernel.error().message;
}

template <typename T>
void patch(std::string& image, uint64_t offset, T value) {
    std::memcpy(image.data() + offset, &value, sizeof value);
}

boot_params zero_page_of(const GuestMemory& memory, uint64_t address) {
    boot_params params;
    std::memcpy(&params, memory.host_address() + address, sizeof params);
    return params;
}

}  // namespace

TEST_CASE("a bzImage's payload goes to pref_address, and its entry is 0x200 into it", "[microvm]") {
    BzSpec spec;
    std::string image = make_bzimage(spec);
    CHECK(is_bzimage(image));
    auto kernel = parse_bzimage(image);
    REQUIRE(kernel);
    CHECK(kernel->payload_offset == 1024);
    CHECK(kernel->payload_size == spec.payload.size());
    CHECK(kernel->load_address == 0x100000);
    CHECK(kernel->end == 0x120000);  // init_size reaches past the payload
    CHECK(kernel->header_size == 0x26c - 0x1f1);
    auto memory = memory_of(4);
    REQUIRE(load_bzimage(image, *kernel, memory));
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + 0x100000, spec.payload.size()) ==
          spec.payload);
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + 0x100000 + kBzImageEntry64, 12) ==
          "64-bit entry");
}

TEST_CASE("setup_sects 0 means 4, and a relocatable kernel runs from its aligned address", "[microvm]") {
    BzSpec legacy;
    legacy.setup_sects = 0;
    auto kernel = parse_bzimage(make_bzimage(legacy));
    REQUIRE(kernel);
    CHECK(kernel->payload_offset == 5 * 512);

    BzSpec relocatable;
    relocatable.relocatable = 1;
    relocatable.pref_address = 0x180000;
    kernel = parse_bzimage(make_bzimage(relocatable));
    REQUIRE(kernel);
    CHECK(kernel->load_address == 0x180000);
    CHECK(kernel->end == 0x200000 + 0x20000);  // init_size from the next 2 MiB boundary
}

TEST_CASE("hostile bzImages are refused with one line", "[microvm]") {
    std::string good = make_bzimage({});
    CHECK_FALSE(is_bzimage(good.substr(0, 0x204)));
    CHECK(parse_error(good.substr(0, 0x260)) ==
          "the setup header is cut short: the file has 608 bytes, the header reaches 0x26c");
    std::string no_magic = good;
    patch(no_magic, 0x202, uint32_t{0x12345678});
    CHECK_FALSE(is_bzimage(no_magic));
    CHECK(parse_error(no_magic) == "no setup header (HdrS) at 0x202");
    std::string no_boot_flag = good;
    patch(no_boot_flag, 0x1fe, uint16_t{0});
    CHECK(parse_error(no_boot_flag) == "no boot sector signature 0xaa55 at 0x1fe");

    BzSpec spec;
    spec.version = 0x020b;
    CHECK(parse_error(make_bzimage(spec)) ==
          "boot protocol 2.11: the 64-bit boot needs 2.12 or later (xloadflags)");
    spec = {};
    spec.jump_length = 0x10;
    CHECK(parse_error(make_bzimage(spec)) ==
          "the setup header ends at 0x212, before protocol 2.15's fields do (0x264)");
    std::string no_jump = good;
    no_jump[0x200] = '\x90';
    CHECK(parse_error(no_jump) == "no short jump over the setup header at 0x200");
    spec = {};
    spec.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
    CHECK(parse_error(make_bzimage(spec)) == "no 64-bit entry (XLF_KERNEL_64 is clear in xloadflags)");
    spec = {};
    spec.loadflags = 0;
    CHECK(parse_error(make_bzimage(spec)) ==
          "not loaded high (LOADED_HIGH is clear in loadflags): a zImage, which boots only in real mode");
}

TEST_CASE("a bzImage whose sizes or addresses do not add up is refused with one line", "[microvm]") {
    std::string good = make_bzimage({});
    std::string huge_setup = good;
    huge_setup[0x1f1] = '\xff';
    CHECK(parse_error(huge_setup) ==
          "setup_sects 255: the setup code (131072 bytes) leaves nothing of the file (2048 bytes) for the "
          "kernel");
    CHECK(parse_error(good.substr(0, good.size() - 16)) ==
          "syssize 0x40: a kernel of 1024 bytes, more than the 1008 after the setup code: the file is cut "
          "short");
    std::string no_kernel = good;
    patch(no_kernel, 0x1f4, uint32_t{0});
    CHECK(parse_error(no_kernel) == "syssize 0: no protected-mode kernel");
    std::string wrapping = good;
    patch(wrapping, 0x1f4, uint32_t{0xffffffff});
    CHECK_THAT(parse_error(wrapping), Catch::StartsWith("syssize 0xffffffff: a kernel of 68719476720 bytes"));

    BzSpec spec;
    spec.pref_address = 0x8000;
    CHECK(parse_error(make_bzimage(spec)) ==
          "pref_address 0x8000 is below 1 MiB, where the VMM puts the boot data");
    spec.pref_address = 0xfffffffffffff000;
    CHECK(parse_error(make_bzimage(spec)) ==
          "pref_address 0xfffffffffffff000 is above the most RAM a guest has (3072 MiB)");
    spec = {};
    spec.relocatable = 1;
    spec.kernel_alignment = 0x300000;
    CHECK(parse_error(make_bzimage(spec)) == "kernel_alignment 0x300000 is not a power of two");
}

TEST_CASE("a bzImage larger than guest memory, with its init_size, is refused before a copy", "[microvm]") {
    auto memory = memory_of(4);
    BzSpec spec;
    spec.init_size = 0xfffff000;
    std::string image = make_bzimage(spec);
    auto kernel = parse_bzimage(image);
    REQUIRE(kernel);
    auto loaded = load_bzimage(image, *kernel, memory);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message ==
          "the kernel needs 4294963200 bytes at 0x100000 (its payload and init_size), more than guest memory "
          "(4 MiB) holds");
    CHECK(memory.host_address()[0x100000] == 0);

    spec = {};
    spec.pref_address = 0x3ff000;
    image = make_bzimage(spec);
    kernel = parse_bzimage(image);
    REQUIRE(kernel);
    CHECK_FALSE(load_bzimage(image, *kernel, memory));
}

TEST_CASE("the zero page carries the setup header, the command line, the initrd and the e820 map",
          "[microvm]") {
    std::string image = make_bzimage({});
    auto kernel = parse_bzimage(image);
    REQUIRE(kernel);
    auto memory = memory_of(16);
    std::string initrd(5000, 'i');
    auto address = write_linux_boot_params(memory, *kernel, {"console=ttyS0", initrd});
    REQUIRE(address);
    auto params = zero_page_of(memory, *address);
    // The image's header, as it was...
    CHECK(std::memcmp(reinterpret_cast<char*>(&params) + 0x1f1, image.data() + 0x1f1, 0x210 - 0x1f1) == 0);
    CHECK(params.hdr.version == 0x020f);
    CHECK(params.hdr.init_size == 0x20000);
    CHECK(params.hdr.xloadflags == XLF_KERNEL_64);
    // ...with the loader's fields over it.
    CHECK(params.hdr.type_of_loader == 0xff);
    CHECK(params.hdr.cmd_line_ptr == 0x20000);
    CHECK(params.ext_cmd_line_ptr == 0);
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + params.hdr.cmd_line_ptr) ==
          "console=ttyS0");
    CHECK(params.hdr.ramdisk_image == (16 << 20) - 8192);
    CHECK(params.hdr.ramdisk_size == 5000);
    CHECK(params.ext_ramdisk_image == 0);
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + params.hdr.ramdisk_image, 5000) ==
          initrd);
    auto regions = guest_memory_map(16 << 20);
    REQUIRE(params.e820_entries == regions.size());
    for (size_t i = 0; i < regions.size(); ++i) {
        CHECK(params.e820_table[i].addr == regions[i].address);
        CHECK(params.e820_table[i].size == regions[i].size);
        CHECK(params.e820_table[i].type == static_cast<uint32_t>(regions[i].type));
    }

    auto no_initrd = write_linux_boot_params(memory_of(16), *kernel, {"", ""});
    REQUIRE(no_initrd);
}

TEST_CASE("the command line must fit the kernel's cmdline_size", "[microvm]") {
    BzSpec spec;
    spec.cmdline_size = 255;
    auto kernel = parse_bzimage(make_bzimage(spec));
    REQUIRE(kernel);
    auto memory = memory_of(4);
    CHECK(write_linux_boot_params(memory, *kernel, {std::string(255, 'a'), ""}));
    auto too_long = write_linux_boot_params(memory, *kernel, {std::string(256, 'a'), ""});
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().message == "kernel command line: 256 bytes, over the kernel's cmdline_size (255)");
    // Linux's own limit holds too, whatever the header says.
    spec.cmdline_size = 100000;
    kernel = parse_bzimage(make_bzimage(spec));
    REQUIRE(kernel);
    CHECK_FALSE(write_linux_boot_params(memory, *kernel, {std::string(2048, 'a'), ""}));
}

TEST_CASE("the initrd lies wholly at or below the kernel's initrd_addr_max", "[microvm]") {
    BzSpec spec;
    spec.initrd_addr_max = 0x1fffff;  // the last byte of the first 2 MiB
    auto kernel = parse_bzimage(make_bzimage(spec));
    REQUIRE(kernel);
    auto memory = memory_of(16);
    auto address = write_linux_boot_params(memory, *kernel, {"", std::string(5000, 'i')});
    REQUIRE(address);
    auto params = zero_page_of(memory, *address);
    CHECK(params.hdr.ramdisk_image == 0x200000 - 8192);

    spec.initrd_addr_max = 0x11ffff;  // below the kernel's end, 0x120000
    kernel = parse_bzimage(make_bzimage(spec));
    REQUIRE(kernel);
    auto refused = write_linux_boot_params(memory_of(16), *kernel, {"", std::string(5000, 'i')});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message ==
          "initrd: 5000 bytes do not fit between the kernel's end (0x120000) and its initrd_addr_max "
          "(0x11ffff)");
}
