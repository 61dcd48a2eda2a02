// The microVM benchmark's driver (VM start to guest exit on the builtin VMM, against
// QEMU -M microvm), a bench-only target (hutch-bench-vm-start, built with hutch_microvm):
//   hutch-bench-vm-start KERNEL [CMDLINE [MEMORY_MIB [VCPUS]]]
// boots KERNEL (an ELF image with a PVH entry, such as build/tests/vm-guest.elf) with its serial
// console on stdout, and exits with the guest's exit code; a failure of the VMM is one line on
// stderr and status 125, which no test guest uses.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/guarded_main.h"
#include "microvm/run_vm.h"

using namespace hutch;

namespace {

constexpr int kVmmFailed = 125;

int run(int argc, char** argv) {
    if (argc < 2 || argc > 5) {
        std::fprintf(stderr, "usage: %s KERNEL [CMDLINE [MEMORY_MIB [VCPUS]]]\n", argv[0]);
        return kVmmFailed;
    }
    microvm::VmConfig config;
    config.kernel = argv[1];
    if (argc > 2) config.cmdline = argv[2];
    if (argc > 3) config.memory_mib = static_cast<uint32_t>(std::stoul(argv[3]));
    if (argc > 4) config.vcpus = static_cast<uint32_t>(std::stoul(argv[4]));
    config.console_fd = STDOUT_FILENO;
    auto exit_code = microvm::run_vm(config);
    if (!exit_code) {
        std::fprintf(stderr, "hutch-bench-vm-start: %s\n", exit_code.error().message.c_str());
        return kVmmFailed;
    }
    return *exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    return run_guarded([&] { return run(argc, argv); },
                       [](const char* what) {
                           std::fprintf(stderr, "hutch-bench-vm-start: %s\n", what);
                           return kVmmFailed;
                       });
}
