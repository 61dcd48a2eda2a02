// `hutch run --vm` with a real distribution's image: the debootstrapped Debian rootfs
// (scripts/debian-rootfs.sh, cached in /var/cache/hutch) imported as an image and run in a
// microVM under hutch's guest kernel, with stdout, stdin, the exit status and a signal crossing
// the VM boundary. Its one layer is about 200 MB: the first run of a store makes its erofs image
// (mkfs.erofs, cached beside the layer), the later runs of the test only boot.
#include <signal.h>

#include <catch2/catch.hpp>

#include "harness.h"
#include "hutch_command.h"
#include "microvm_support.h"

using namespace hutch::test;

namespace {

// The cached Debian rootfs, made once when it is missing; nothing when it cannot be (debootstrap
// missing, or the Debian archive out of reach), with why.
std::optional<std::string> debian_rootfs(std::string& why) {
    const std::string key = "/var/cache/hutch/debian-bookworm-minbase";
    auto made = run_command({HUTCH_SOURCE_DIR "/scripts/debian-rootfs.sh", key});
    if (made.status != 0) {
        why = "the Debian rootfs is not cached and cannot be made: " + made.err;
        return std::nullopt;
    }
    return key + "/rootfs";
}

}  // namespace

TEST_CASE("microvm: a debootstrapped Debian image runs with hutch run --vm", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    std::string why;
    auto rootfs = debian_rootfs(why);
    if (!rootfs) {
        WARN("skipped: " + why);
        return;
    }
    TempDir root;
    check_ok(hutch_cmd(root, {"import", "-c", R"(CMD ["/bin/bash"])", *rootfs, "localhost/debian:12"}));
    std::string kernel = guest_kernel();
    auto vm_run = [&](std::vector<std::string> args, const std::string& stdin_data = "") {
        args.insert(args.begin(), {"run", "--rm", "--vm", "--vm-kernel", kernel});
        return hutch_cmd(root, args, stdin_data);
    };

    // Its own dynamically linked programs, under the guest kernel, not this host's.
    auto version = vm_run({"localhost/debian:12", "bash", "-c", "cat /etc/debian_version; uname -r"});
    INFO(version.err);
    CHECK(version.status == 0);
    CHECK(version.out.starts_with("12."));
    CHECK(version.out.find("\n" + host_release() + "\n") == std::string::npos);

    std::string input;
    for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + "\n";
    auto sum = vm_run({"-i", "localhost/debian:12", "sha256sum"}, input);
    auto expected = run_command({"sha256sum"}, input);
    CHECK(sum.status == 0);
    CHECK(sum.out == expected.out);

    CHECK(vm_run({"localhost/debian:12", "bash", "-c", "exit 3"}).status == 3);

    RunningVm vm({HUTCH_BINARY, "--storage-root", root.path() + "/storage", "--runroot", root.path() + "/run",
                  "run", "--rm", "--vm", "--vm-kernel", kernel, "localhost/debian:12", "bash", "-c",
                  "trap 'exit 143' TERM; echo ready; sleep 100 & wait"});
    // bash is PID 1 of its pid namespace, as in a host container: only a signal it handles reaches it.
    REQUIRE(vm.read_until("ready\n") == "ready\n");
    REQUIRE(::kill(vm.pid, SIGTERM) == 0);
    CHECK(vm.wait() == 143);
    CHECK(processes_mentioning(root.path()).empty());
}
