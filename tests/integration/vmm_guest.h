// What the builtin VMM's tests share (vmm_test.cpp, vmm_bzimage_test.cpp): whether KVM can be used
// here, the freestanding test guest (tests/vm-guests/) run to its end with its console, and the
// files a test gives it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "base/file.h"
#include "microvm/kvm.h"
#include "microvm/run_vm.h"

namespace hutch::test {

// Why KVM cannot be used here, or empty when it can.
inline std::string kvm_unusable() {
    auto kvm = hutch::microvm::Kvm::open();
    return kvm ? "" : kvm.error().message;
}

#define REQUIRE_KVM()                                               \
    do {                                                            \
        if (auto why = hutch::test::kvm_unusable(); !why.empty()) { \
            WARN("skipped: no usable KVM here: " + why);            \
            return;                                                 \
        }                                                           \
    } while (0)

struct GuestRun {
    hutch::ErrorOr<int> exit_code;
    std::string console;  // what the guest printed on its serial port
};

// Runs the test guest (config.kernel, by default its ELF build, booted through PVH) with
// `cmdline`. Its console goes to a memfd, which no amount of output fills (a pipe would stop the
// guest once full). A guest that hangs fails after 20 s, long before ctest's timeout.
inline GuestRun run_guest(const std::string& cmdline, hutch::microvm::VmConfig config = {}) {
    UniqueFd console(::memfd_create("vm-console", MFD_CLOEXEC));
    REQUIRE(console.valid());
    if (config.kernel.empty()) config.kernel = HUTCH_VM_GUEST;
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
        std::filesystem::remove_all(dir_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path dir_, path_;
};

// A disk image of `sectors` random sectors: what the guest reads must be these bytes, not a
// pattern a wrong offset could also produce.
inline std::string random_disk(size_t sectors) {
    std::mt19937_64 random(std::random_device{}());
    std::string bytes(sectors * 512, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(random());
    return bytes;
}

// FNV-1a, 32 bits: the guest's checksum (tests/vm-guests/guest.c).
inline uint32_t fnv1a(std::string_view bytes) {
    uint32_t hash = 2166136261u;
    for (unsigned char byte : bytes) hash = (hash ^ byte) * 16777619u;
    return hash;
}

// An initrd the guest checks byte for byte (initrd_size=, initrd_sum=, guest.c's check_initrd):
// small, because this host's KVM may be a software one that emulates each guest instruction
// (kvm_pvm: some 10 us apiece) and the guest sums it byte by byte. `seed` varies the bytes.
struct TestInitrd {
    std::string bytes;
    uint32_t sum = 0;
    std::string cmdline() const {
        return "initrd_size=" + std::to_string(bytes.size()) + " initrd_sum=" + std::to_string(sum);
    }
};
inline TestInitrd test_initrd(unsigned seed) {
    TestInitrd initrd;
    for (size_t i = 0; i < 10 * 4096 + 17; ++i) {
        initrd.bytes.push_back(static_cast<char>((i * seed + i / 4096) & 0xff));
        initrd.sum = initrd.sum * 31 + static_cast<uint8_t>(initrd.bytes.back());
    }
    return initrd;
}

inline hutch::microvm::VmConfig with_disk(const TempFile& file, bool read_only) {
    hutch::microvm::VmConfig config;
    config.disks.push_back({file.path(), read_only, ""});
    return config;
}

}  // namespace hutch::test
