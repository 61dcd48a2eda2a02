// The builtin VMM (microvm/) on this host's KVM, with the freestanding test guest
// (tests/vm-guests/): the guest checks what the VMM handed it (PVH start_info, memory map,
// initrd, command line, CPUID, virtio-blk disks, virtio-pmem regions), prints on the serial console and exits
// with a code that run_vm returns. Each test skips, saying so, where /dev/kvm cannot be used.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/run_vm.h"
#include "vmm_guest.h"

using hutch::UniqueFd;
using hutch::microvm::VmConfig;
using namespace hutch::test;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("the guest's exit code passes through run_vm", "[vmm]") {
    REQUIRE_KVM();
    for (int code : {0, 1, 42, 255}) {
        auto run = run_guest("test=exit code=" + std::to_string(code));
        INFO(run.console);
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == code);
    }
}

TEST_CASE("the guest reads the command line it was given, on its serial console", "[vmm]") {
    REQUIRE_KVM();
    std::string cmdline = "test=exit code=0 console=ttyS0 a.b=c,d quiet " + std::string(1500, 'x');
    auto run = run_guest(cmdline);
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK(run.console == "guest: cmdline: " + cmdline + "\n");
}

TEST_CASE("the PVH start_info and memory map describe the guest's RAM", "[vmm]") {
    REQUIRE_KVM();
    for (uint32_t mib : {2u, 64u, 300u}) {
        VmConfig config;
        config.memory_mib = mib;
        auto run = run_guest("test=start_info mem_mib=" + std::to_string(mib), config);
        INFO(run.console);
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK(run.console.ends_with("guest: ok\n"));
    }
}

TEST_CASE("the initrd is a PVH module at the top of RAM, byte for byte", "[vmm]") {
    REQUIRE_KVM();
    auto initrd = test_initrd(7);
    TempFile file(initrd.bytes);
    VmConfig config;
    config.memory_mib = 32;
    config.initrd = file.path();
    auto run = run_guest("test=start_info mem_mib=32 " + initrd.cmdline(), config);
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK(run.console.ends_with("guest: ok\n"));
}

TEST_CASE("CPUID shows the hypervisor bit and the VMM's vCPU count", "[vmm]") {
    REQUIRE_KVM();
    for (uint32_t vcpus : {1u, 4u}) {
        VmConfig config;
        config.vcpus = vcpus;
        auto run = run_guest("test=cpuid vcpus=" + std::to_string(vcpus), config);
        INFO(run.console);
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK(run.console.ends_with("guest: ok\n"));
    }
}

TEST_CASE("the serial console's output arrives whole", "[vmm]") {
    REQUIRE_KVM();
    auto run = run_guest("test=serial lines=300");
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    std::string expected = "guest: cmdline: test=serial lines=300\n";
    for (int i = 1; i <= 300; ++i) {
        expected += "line " + std::to_string(i) + ":";
        for (int j = 0; j < i; ++j) expected += static_cast<char>('a' + j % 26);
        expected += "\n";
    }
    expected += "guest: ok\n";
    CHECK(run.console == expected);
}

TEST_CASE("a triple fault ends the VM with an error that says so", "[vmm]") {
    REQUIRE_KVM();
    auto run = run_guest("test=triple_fault");
    REQUIRE_FALSE(run.exit_code);
    CHECK_THAT(run.exit_code.error().message, Catch::Contains("triple fault"));
}

TEST_CASE("a guest that never exits is stopped at its time limit", "[vmm]") {
    REQUIRE_KVM();
    VmConfig config;
    config.vcpus = 2;  // the second waits, in the kernel, for a start-up IPI that never comes
    config.timeout = std::chrono::milliseconds(300);
    auto start = std::chrono::steady_clock::now();
    auto run = run_guest("test=hang", config);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(run.exit_code);
    CHECK_THAT(run.exit_code.error().message, Catch::Contains("time limit (300 ms)"));
    CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a kernel that is neither an ELF image nor a bzImage is refused in one line", "[vmm]") {
    // No KVM needed: the image is checked before the VM exists.
    TempFile file("MZ this is not an ELF file");
    VmConfig config;
    config.kernel = file.path();
    auto result = hutch::microvm::run_vm(config);
    REQUIRE_FALSE(result);
    CHECK(result.error().message ==
          "kernel: " + file.path() +
              ": neither an ELF image (no \\x7fELF at its start) nor a bzImage (no HdrS at 0x202)");
}

TEST_CASE("a virtio-blk disk reads into the guest byte for byte", "[vmm]") {
    REQUIRE_KVM();
    std::string disk = random_disk(64);
    TempFile file(disk);
    // 16 sectors from sector 8, in two buffers of one request: small, as the guest sums them byte
    // by byte (see test_initrd).
    auto sum = fnv1a(std::string_view(disk).substr(8 * 512, 16 * 512));
    auto run = run_guest("test=virtio_blk capacity=64 sector=8 count=16 sum=" + std::to_string(sum),
                         with_disk(file, false));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    // The VMM told the guest where the device is, as Linux reads it.
    CHECK_THAT(run.console, Catch::Contains(" virtio_mmio.device=4K@0xd0000000:5\n"));
    CHECK_THAT(run.console, Catch::Contains("guest: checksum " + std::to_string(sum) + "\n"));
    CHECK(run.console.ends_with("guest: ok\n"));

    auto id = run_guest("test=virtio_blk capacity=64 op=id", with_disk(file, false));
    REQUIRE(id.exit_code);
    CHECK(*id.exit_code == 0);
    CHECK_THAT(id.console, Catch::Contains("guest: disk id file\n"));
}

TEST_CASE("a read-write virtio-blk disk takes the guest's writes, and only those", "[vmm]") {
    REQUIRE_KVM();
    std::string disk = random_disk(16);
    TempFile file(disk);
    auto run = run_guest("test=virtio_blk capacity=16 op=write sector=3 count=2", with_disk(file, false));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    std::string expected = disk;
    for (size_t i = 0; i < 1024; ++i)
        expected[3 * 512 + i] = static_cast<char>(i * 7 + 3);  // the guest's pattern
    CHECK(read_file(file.path()) == expected);
}

TEST_CASE("a read-only virtio-blk disk refuses writes with IOERR", "[vmm]") {
    REQUIRE_KVM();
    std::string disk = random_disk(16);
    TempFile file(disk);
    auto run = run_guest("test=virtio_blk capacity=16 ro=1 op=write sector=3 count=2 expect=1",
                         with_disk(file, true));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);  // the guest saw VIRTIO_BLK_F_RO and status IOERR (1)
    CHECK_THAT(run.console, Catch::Contains("guest: write status 1\n"));
    CHECK(read_file(file.path()) == disk);
}

TEST_CASE("a virtio-blk read past the disk's end fails with IOERR", "[vmm]") {
    REQUIRE_KVM();
    TempFile file(random_disk(16));
    // Sector 15 is the last: a two-sector read from it ends past the disk.
    auto run =
        run_guest("test=virtio_blk capacity=16 ro=1 sector=15 count=2 expect=1", with_disk(file, true));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK_THAT(run.console, Catch::Contains("guest: read status 1\n"));
}

TEST_CASE("a hostile virtio driver fails its request or stops the device, and the VMM goes on", "[vmm]") {
    REQUIRE_KVM();
    TempFile file(random_disk(16));
    // A buffer outside RAM fails the request; a broken queue (an index past the table, a loop, an
    // index that jumps, a ring outside RAM) stops the device until the guest resets it. Either
    // way the guest then reads sector 0 and exits.
    for (std::string kind : {"outside_ram", "huge_length"}) {
        INFO(kind);
        auto run = run_guest("test=virtio_blk capacity=16 ro=1 hostile=" + kind, with_disk(file, true));
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK_THAT(run.console, Catch::Contains("guest: hostile request status ioerr\n"));
    }
    for (std::string kind : {"bad_index", "loop", "index_jump", "ring_outside_ram"}) {
        INFO(kind);
        auto run = run_guest("test=virtio_blk capacity=16 ro=1 hostile=" + kind, with_disk(file, true));
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK_THAT(run.console, Catch::Contains("guest: hostile request status needs-reset\n"));
    }
}

TEST_CASE("a disk that cannot be opened fails the VM in one line", "[vmm]") {
    REQUIRE_KVM();
    VmConfig config;
    config.disks.push_back({"/nonexistent/disk.img", false, ""});
    auto run = run_guest("test=exit code=0", config);
    REQUIRE_FALSE(run.exit_code);
    CHECK(run.exit_code.error().message == "disk /nonexistent/disk.img: No such file or directory");
}

TEST_CASE("the guest starts its other vCPUs with INIT and start-up IPIs", "[vmm]") {
    REQUIRE_KVM();
    for (uint32_t vcpus : {2u, 4u}) {
        INFO(vcpus << " vCPUs");
        VmConfig config;
        config.vcpus = vcpus;
        auto run = run_guest("test=smp vcpus=" + std::to_string(vcpus), config);
        REQUIRE(run.exit_code);
        // The guest exits with the number of processors that ran its code, its own included.
        CHECK(*run.exit_code == static_cast<int>(vcpus));
        CHECK_THAT(run.console, Catch::Contains("guest: processors running: " + std::to_string(vcpus)));
    }
}

namespace {

VmConfig with_pmem(const TempFile& file, bool read_only) {
    VmConfig config;
    config.pmem.push_back({file.path(), read_only});
    return config;
}

constexpr size_t kPmemRegion = 2 << 20;  // the file's size rounded up to 2 MiB (pmem_region.h)

}  // namespace

TEST_CASE("a virtio-pmem region is the file, as memory, padded with zeros to 2 MiB", "[vmm]") {
    REQUIRE_KVM();
    // Not a whole number of pages: the tail of the last page and the padding read as zeros.
    std::string contents = random_disk(128) + "tail";
    TempFile file(contents);
    std::string padded = contents + std::string(kPmemRegion - contents.size(), '\0');
    // The guest reads every page; it sums a small range byte by byte (see test_initrd): the
    // file, its end and some padding, then the region's last page, which is padding only.
    for (auto [offset, length] : {std::pair<size_t, size_t>{0, contents.size() + 8192},
                                  std::pair<size_t, size_t>{kPmemRegion - 4096, 4096}}) {
        auto sum = fnv1a(std::string_view(padded).substr(offset, length));
        auto run =
            run_guest("test=pmem size=" + std::to_string(kPmemRegion) + " sum=" + std::to_string(sum) +
                          " sum_offset=" + std::to_string(offset) + " sum_length=" + std::to_string(length),
                      with_pmem(file, true));
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK_THAT(run.console, Catch::Contains(" virtio_mmio.device=4K@0xd0000000:5\n"));
        // Above RAM and the MMIO hole, on the first 128 MiB boundary.
        CHECK_THAT(run.console, Catch::Contains("guest: pmem at 4294967296 +2097152\n"));
        CHECK_THAT(run.console, Catch::Contains("guest: pmem pages touched 512\n"));
        CHECK(run.console.ends_with("guest: ok\n"));
    }
    CHECK(read_file(file.path()) == contents);
}

TEST_CASE("a read-only virtio-pmem region drops the guest's writes, and the VMM goes on", "[vmm]") {
    REQUIRE_KVM();
    std::string contents = random_disk(4096);  // 2 MiB
    TempFile file(contents);
    auto sum = fnv1a(std::string_view(contents).substr(0, 4096));
    // The guest writes its first page and a word of the second (KVM_MEM_READONLY: MMIO exits no
    // device claims), finds the bytes unchanged, flushes (answered 0) and exits.
    auto run = run_guest("test=pmem size=" + std::to_string(kPmemRegion) + " sum=" + std::to_string(sum) +
                             " sum_length=4096 op=write ro=1",
                         with_pmem(file, true));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK(run.console.ends_with("guest: ok\n"));
    CHECK(read_file(file.path()) == contents);
}

TEST_CASE("a read-write virtio-pmem region writes the file, flushed on the guest's FLUSH", "[vmm]") {
    REQUIRE_KVM();
    std::string contents = random_disk(4096);
    TempFile file(contents);
    auto sum = fnv1a(std::string_view(contents).substr(0, 4096));
    auto run = run_guest("test=pmem size=" + std::to_string(kPmemRegion) + " sum=" + std::to_string(sum) +
                             " sum_length=4096 op=write",
                         with_pmem(file, false));
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    std::string expected = contents;
    for (size_t i = 0; i < 4096; ++i) expected[i] = static_cast<char>(i * 7 + 3);  // the guest's pattern
    uint64_t word = 0x0123456789abcdefull;  // its word at 4096, little-endian
    std::memcpy(expected.data() + 4096, &word, sizeof word);
    CHECK(read_file(file.path()) == expected);
}

TEST_CASE("a pmem file that is missing or empty fails the VM in one line", "[vmm]") {
    REQUIRE_KVM();
    VmConfig missing;
    missing.pmem.push_back({"/nonexistent/layer.erofs", true});
    auto run = run_guest("test=exit code=0", missing);
    REQUIRE_FALSE(run.exit_code);
    CHECK(run.exit_code.error().message == "pmem /nonexistent/layer.erofs: No such file or directory");

    TempFile empty("");
    run = run_guest("test=exit code=0", with_pmem(empty, true));
    REQUIRE_FALSE(run.exit_code);
    CHECK(run.exit_code.error().message == "pmem " + empty.path() + ": an empty file, nothing to map");
}

TEST_CASE("a pmem file truncated under a running guest stops the VM, not the VMM", "[vmm]") {
    REQUIRE_KVM();
    std::string contents = random_disk(4096);
    TempFile file(contents);
    auto sum = fnv1a(std::string_view(contents).substr(0, 4096));
    UniqueFd console(::memfd_create("vm-console", MFD_CLOEXEC));
    REQUIRE(console.valid());
    VmConfig config = with_pmem(file, true);
    config.kernel = HUTCH_VM_GUEST;
    config.cmdline = "test=pmem size=" + std::to_string(kPmemRegion) + " sum=" + std::to_string(sum) +
                     " sum_length=4096 reread=1";
    config.console_fd = console.get();
    config.timeout = std::chrono::seconds(5);
    // Once the guest rereads the region in a loop, the host truncates the file: the pages behind
    // the guest's mapping are gone, and its next read of one can only fail.
    std::atomic<bool> truncated = false;
    std::thread host([&] {
        char buffer[4096];
        for (int i = 0; i < 1500; ++i) {
            ssize_t n = ::pread(console.get(), buffer, sizeof buffer - 1, 0);
            if (n > 0 && std::string_view(buffer, static_cast<size_t>(n)).find("rereading") !=
                             std::string_view::npos) {
                truncated = ::truncate(file.path().c_str(), 0) == 0;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    auto result = hutch::microvm::run_vm(config);
    host.join();
    REQUIRE(truncated);
    REQUIRE_FALSE(result);
    // Hardware KVM fails KVM_RUN with EFAULT; this host's software KVM (kvm_pvm) retries the
    // fault, so the guest stalls until its time limit. Either way the VMM returns an error.
    INFO(result.error().message);
    CHECK((result.error().message.find("KVM_RUN") != std::string::npos ||
           result.error().message.starts_with("the guest ran past its time limit")));
}
