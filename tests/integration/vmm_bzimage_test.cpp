// The builtin VMM booting a bzImage through Linux's 64-bit boot protocol, on this host's KVM: the
// test guest built as a bzImage (tests/vm-guests/bzimage.S) checks the zero page (its setup
// header, type_of_loader, the e820 table, the command line, the initrd) and the vCPU's state at
// its 64-bit entry, then runs the tests its PVH build runs. Each test skips, saying so, where
// /dev/kvm cannot be used.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "base/file.h"
#include "microvm/run_vm.h"
#include "vmm_guest.h"

using hutch::microvm::VmConfig;
using namespace hutch::test;

namespace {

VmConfig bzimage(VmConfig config = {}) {
    config.kernel = HUTCH_VM_GUEST_BZIMAGE;
    return config;
}

// The e820 lines the guest prints for `mib` of RAM: the layout PVH's memory map has too.
std::string e820_lines(uint32_t mib) {
    return "guest: e820 0 +654336 type 1\n"
           "guest: e820 654336 +394240 type 2\n"
           "guest: e820 1048576 +" +
           std::to_string((uint64_t{mib} << 20) - (1 << 20)) + " type 1\n";
}

// The guest's bzImage with `size` bytes at `offset` of its setup header replaced by `value`.
TempFile patched_guest(uint64_t offset, uint32_t value, size_t size) {
    auto image = hutch::read_file(HUTCH_VM_GUEST_BZIMAGE);
    REQUIRE(image);
    REQUIRE(offset + size <= image->size());
    std::memcpy(image->data() + offset, &value, size);
    return TempFile(*image);
}

}  // namespace

TEST_CASE("a bzImage boots in long mode with a zero page and an e820 table of its RAM", "[vmm]") {
    REQUIRE_KVM();
    for (uint32_t mib : {2u, 64u, 300u}) {
        INFO(mib << " MiB");
        VmConfig config;
        config.memory_mib = mib;
        auto run = run_guest("test=boot_params mem_mib=" + std::to_string(mib), bzimage(config));
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK_THAT(run.console, Catch::Contains("guest: zero page at 32768\n" + e820_lines(mib)));
        CHECK(run.console.ends_with("guest: ok\n"));
    }
}

TEST_CASE("a bzImage's initrd is at ramdisk_image, byte for byte, at the top of RAM", "[vmm]") {
    REQUIRE_KVM();
    auto initrd = test_initrd(13);
    TempFile file(initrd.bytes);
    VmConfig config;
    config.memory_mib = 32;
    config.initrd = file.path();
    auto run = run_guest("test=boot_params mem_mib=32 " + initrd.cmdline(), bzimage(config));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK(run.console.ends_with("guest: ok\n"));
}

TEST_CASE("a bzImage reads its command line through cmd_line_ptr and exits with its code", "[vmm]") {
    REQUIRE_KVM();
    std::string cmdline = "test=exit code=0 console=ttyS0 a.b=c,d quiet " + std::string(1900, 'x');
    auto run = run_guest(cmdline, bzimage());
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK(run.console == "guest: cmdline: " + cmdline + "\n");
    for (int code : {1, 42, 255}) {
        auto exited = run_guest("test=exit code=" + std::to_string(code), bzimage());
        REQUIRE(exited.exit_code);
        CHECK(*exited.exit_code == code);
    }
}

TEST_CASE("a bzImage's serial console output arrives whole", "[vmm]") {
    REQUIRE_KVM();
    auto run = run_guest("test=serial lines=40", bzimage());
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    std::string expected = "guest: cmdline: test=serial lines=40\n";
    for (int i = 1; i <= 40; ++i) {
        expected += "line " + std::to_string(i) + ":";
        for (int j = 0; j < i; ++j) expected += static_cast<char>('a' + j % 26);
        expected += "\n";
    }
    CHECK(run.console == expected + "guest: ok\n");
}

TEST_CASE("a virtio-blk disk reads into a bzImage guest byte for byte", "[vmm]") {
    REQUIRE_KVM();
    std::string disk = random_disk(32);
    TempFile file(disk);
    auto sum = fnv1a(std::string_view(disk).substr(4 * 512, 8 * 512));
    auto run = run_guest("test=virtio_blk capacity=32 ro=1 sector=4 count=8 sum=" + std::to_string(sum),
                         bzimage(with_disk(file, true)));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK_THAT(run.console, Catch::Contains(" virtio_mmio.device=4K@0xd0000000:5\n"));
    CHECK_THAT(run.console, Catch::Contains("guest: checksum " + std::to_string(sum) + "\n"));
    CHECK(run.console.ends_with("guest: ok\n"));
}

TEST_CASE("a bzImage guest starts its other vCPUs", "[vmm]") {
    REQUIRE_KVM();
    VmConfig config;
    config.vcpus = 2;
    auto run = run_guest("test=smp vcpus=2", bzimage(config));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 2);
}

TEST_CASE("the PVH boot's test of the zero page fails: it has none", "[vmm]") {
    REQUIRE_KVM();
    auto run = run_guest("test=boot_params mem_mib=128");
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 1);
    CHECK_THAT(run.console, Catch::Contains("guest: FAIL: test=boot_params needs the bzImage boot\n"));
}

TEST_CASE("a bzImage the 64-bit boot cannot take is refused in one line, before the VM", "[vmm]") {
    // No KVM needed: the image is checked before the VM exists.
    auto old_protocol = patched_guest(0x206, 0x020b, 2);
    VmConfig config = bzimage();
    config.kernel = old_protocol.path();
    auto result = hutch::microvm::run_vm(config);
    REQUIRE_FALSE(result);
    CHECK(result.error().message ==
          "kernel: " + old_protocol.path() +
              ": boot protocol 2.11: the 64-bit boot needs 2.12 or later (xloadflags)");

    auto short_cmdline = patched_guest(0x238, 15, 4);
    config.kernel = short_cmdline.path();
    config.cmdline = "test=exit code=0";
    result = hutch::microvm::run_vm(config);
    REQUIRE_FALSE(result);
    CHECK(result.error().message == "kernel command line: 16 bytes, over the kernel's cmdline_size (15)");
}
