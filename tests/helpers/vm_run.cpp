// hutch-vm-run: runs a command in a microVM through microvm/host's run_in_vm(), with this
// process's stdio and signals, and exits with the command's status (125 when the VM could not
// run it). For the [microvm-qemu] integration tests and the boot-to-exit measurement, until
// `hutch run` has a --vm flag.
//
// Usage: hutch-vm-run KERNEL AGENT CACHE_DIR DIFF_DIR[:DIFF_DIR...] (top first)
//                     [--env NAME=VALUE]... [--cwd DIR] [--user UID:GID] [--hostname NAME]
//                     [--vmm builtin] [--kernel-args TEXT] [--image FILE]... -- CMD [ARG...]
//
// --vmm builtin runs the VM on hutch-vmm even where choose_vmm would refuse it (no hardware
// virtualisation): the builtin VMM's tests run the host's side with a freestanding guest
// (tests/vm-guests/agent.c) that such a KVM runs. --image: an erofs image made already, bottom
// first, used instead of the diff directories (which may then be ""). --kernel-args: appended to
// the guest kernel's command line.
#include "microvm/host/vm_run.h"

#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::vector<std::string> split(const std::string& list, char separator) {
    std::vector<std::string> parts;
    size_t start = 0, end;
    while ((end = list.find(separator, start)) != std::string::npos) {
        parts.push_back(list.substr(start, end - start));
        start = end + 1;
    }
    parts.push_back(list.substr(start));
    return parts;
}

int usage() {
    std::fprintf(
        stderr,
        "usage: hutch-vm-run KERNEL AGENT CACHE_DIR DIFF_DIR[:DIFF_DIR...] [--env N=V]... [--cwd DIR] "
        "[--user UID:GID] [--hostname NAME] [--vmm builtin] [--kernel-args TEXT] [--image FILE]... "
        "-- CMD [ARG...]\n");
    return 125;
}

}  // namespace

int main(int argc, char** argv) {
    // A test's helper: it dies with the test (a ctest timeout kills only the test binary), and
    // its QEMU with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc < 5) return usage();
    hutch::microvm::host::VmRunOptions options;
    options.kernel = argv[1];
    options.agent = argv[2];
    options.cache_dir = argv[3];
    if (argv[4][0] != '\0') options.layers = split(argv[4], ':');
    bool builtin = false;
    auto& process = options.process;
    process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    int i = 5;
    for (; i < argc && std::strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) return usage();
        std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--env") {
            process.env.push_back(value);
        } else if (flag == "--cwd") {
            process.cwd = value;
        } else if (flag == "--hostname") {
            process.hostname = value;
        } else if (flag == "--vmm" && value == "builtin") {
            builtin = true;
        } else if (flag == "--kernel-args") {
            options.kernel_args = value;
        } else if (flag == "--image") {
            options.images.push_back(value);
        } else if (flag == "--user" && value.find(':') != std::string::npos) {
            process.uid = static_cast<uid_t>(std::stoul(value.substr(0, value.find(':'))));
            process.gid = static_cast<gid_t>(std::stoul(value.substr(value.find(':') + 1)));
        } else {
            return usage();
        }
    }
    for (++i; i < argc; ++i) process.args.push_back(argv[i]);
    if (process.args.empty()) return usage();
    if (builtin) {
        options.vmm = {true, "", "forced by hutch-vm-run --vmm builtin"};
    } else {
        auto vmm = hutch::microvm::choose_vmm(hutch::microvm::VmmRequest::automatic);
        if (!vmm) {
            std::fprintf(stderr, "hutch-vm-run: %s\n", vmm.error().message.c_str());
            return 125;
        }
        options.vmm = *vmm;
    }
    options.vmm_binary = HUTCH_VMM_BINARY;
    auto status = hutch::microvm::host::run_in_vm(options);
    if (!status) {
        std::fprintf(stderr, "hutch-vm-run: %s\n", status.error().message.c_str());
        return 125;
    }
    return *status;
}
