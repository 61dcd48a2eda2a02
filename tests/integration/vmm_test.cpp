// The builtin VMM (microvm/) on this host's KVM, with the freestanding test guest
// (tests/vm-guests/): the guest checks what the VMM handed it (PVH start_info, memory map,
// initrd, command line, CPUID), prints on the serial console and exits with a code that
// run_vm returns. Each test skips, saying so, where /dev/kvm cannot be used.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/kvm.h"
#include "microvm/run_vm.h"

namespace fs = std::filesystem;
using hutch::UniqueFd;
using hutch::microvm::VmConfig;

namespace {

// Why KVM cannot be used here, or empty when it can.
std::string kvm_unusable() {
    auto kvm = hutch::microvm::Kvm::open();
    return kvm ? "" : kvm.error().message;
}

#define REQUIRE_KVM()                                    \
    do {                                                 \
        if (auto why = kvm_unusable(); !why.empty()) {   \
            WARN("skipped: no usable KVM here: " + why); \
            return;                                      \
        }                                                \
    } while (0)

struct GuestRun {
    hutch::ErrorOr<int> exit_code;
    std::string console;  // what the guest printed on its serial port
};

// Runs the test guest with `cmdline`. Its console goes to a memfd, which no amount of output
// fills (a pipe would stop the guest once full). A guest that hangs fails after 20 s, long
// before ctest's timeout.
GuestRun run_guest(const std::string& cmdline, VmConfig config = {}) {
    UniqueFd console(::memfd_create("vm-console", MFD_CLOEXEC));
    REQUIRE(console.valid());
    config.kernel = HUTCH_VM_GUEST;
    config.cmdline = cmdline;
    config.console_fd = console.get();
    if (config.timeout.count() == 0) config.timeout = std::chrono::seconds(20);
    auto exit_code = hutch::microvm::run_vm(config);
    REQUIRE(::lseek(console.get(), 0, SEEK_SET) == 0);
    auto output = hutch::read_all(console.get());
    REQUIRE(output);
    INFO("console:\n" << *output);
    return {std::move(exit_code), std::move(*output)};
}

// A file in a directory of the test's own, removed with it.
class TempFile {
public:
    explicit TempFile(const std::string& contents) {
        char dir[] = "/tmp/hutch-vmm-test-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        dir_ = dir;
        path_ = dir_ / "file";
        std::ofstream(path_, std::ios::binary) << contents;
    }
    ~TempFile() {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

private:
    fs::path dir_, path_;
};

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
    std::string initrd;
    uint32_t sum = 0;
    // Small: this host's KVM may be a software one that emulates each guest instruction
    // (kvm_pvm: some 10 us apiece), and the guest sums the initrd byte by byte.
    for (size_t i = 0; i < 10 * 4096 + 17; ++i) {
        initrd.push_back(static_cast<char>((i * 7 + i / 4096) & 0xff));
        sum = sum * 31 + static_cast<uint8_t>(initrd.back());
    }
    TempFile file(initrd);
    VmConfig config;
    config.memory_mib = 32;
    config.initrd = file.path();
    auto run = run_guest("test=start_info mem_mib=32 initrd_size=" + std::to_string(initrd.size()) +
                             " initrd_sum=" + std::to_string(sum),
                         config);
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

TEST_CASE("a kernel that is not a PVH ELF image is refused in one line", "[vmm]") {
    // No KVM needed: the image is checked before the VM exists.
    TempFile file("MZ this is not an ELF file");
    VmConfig config;
    config.kernel = file.path();
    auto result = hutch::microvm::run_vm(config);
    REQUIRE_FALSE(result);
    CHECK(result.error().message ==
          "kernel: " + file.path() + ": not an ELF file (no \\x7fELF at its start)");
}
