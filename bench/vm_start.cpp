// The microVM benchmark's driver (VM start to guest exit on the builtin VMM, against
// QEMU -M microvm), a bench-only target (hutch-bench-vm-start, built with hutch_microvm):
//   hutch-bench-vm-start [--pmem FILE | --disk FILE]... KERNEL [CMDLINE [MEMORY_MIB [VCPUS]]]
// boots KERNEL (an ELF image with a PVH entry, such as build/tests/vm-guest.elf) with its serial
// console on stdout, and exits with the guest's exit code; a failure of the VMM is one line on
// stderr and status 125, which no test guest uses. --pmem adds a read-only virtio-pmem device on
// FILE, --disk a read-only virtio-blk disk (the page-sharing benchmark, bench/vm-share.sh).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/guarded_main.h"
#include "microvm/run_vm.h"

using namespace hutch;

namespace {

constexpr int kVmmFailed = 125;

// Takes the leading --pmem and --disk options off argv into `config`.
void take_devices(int& argc, char**& argv, microvm::VmConfig& config) {
    while (argc > 2) {
        std::string option = argv[1];
        if (option == "--pmem")
            config.pmem.push_back({argv[2], true});
        else if (option == "--disk")
            config.disks.push_back({argv[2], true});
        else
            return;
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    }
}

int run(int argc, char** argv) {
    microvm::VmConfig config;
    take_devices(argc, argv, config);
    if (argc < 2 || argc > 5) {
        std::fprintf(stderr,
                     "usage: %s [--pmem FILE | --disk FILE]... KERNEL [CMDLINE [MEMORY_MIB [VCPUS]]]\n",
                     argv[0]);
        return kVmmFailed;
    }
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
