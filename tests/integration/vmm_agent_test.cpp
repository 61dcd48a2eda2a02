// The host's side of a container in a microVM (microvm/host/run_in_vm) on the builtin VMM, for
// real: hutch-vm-run with --vmm builtin boots hutch-vmm with the command line, inherited sockets,
// disk serials and initramfs a container gets, and relays stdio, signals and the exit status to a
// stand-in for the guest agent (tests/vm-guests/agent.c) that speaks the agent's protocol. The
// stand-in is the freestanding test guest, which a software KVM (kvm_pvm) runs where Linux cannot
// boot on hutch-vmm. Each test skips, saying so, where /dev/kvm cannot be used, and leaves no
// hutch-vmm behind.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "microvm_support.h"
#include "vmm_guest.h"

using namespace hutch::test;

namespace {

// A VM's cache directory (the agent's initramfs): every hutch-vmm of the test mentions it on its
// command line, so none that is left can hide.
class AgentVm {
public:
    ~AgentVm() {
        for (pid_t pid : processes_mentioning(dir_.path())) ::kill(pid, SIGKILL);
    }
    // hutch-vm-run's command line for the stand-in in `mode` (with more kernel arguments, and
    // hutch-vm-run's flags), under `timeout` so that a VM that hangs fails well before ctest's
    // 300 s. The command is the stand-in's to ignore.
    std::vector<std::string> command(const std::string& kernel_args,
                                     const std::vector<std::string>& flags = {},
                                     bool under_timeout = true) const {
        std::vector<std::string> argv;
        if (under_timeout) argv = {"timeout", "-s", "KILL", "120"};
        argv.insert(argv.end(),
                    {HUTCH_VM_RUN_BINARY, HUTCH_VM_GUEST, HUTCH_AGENT_BINARY, dir_.path() + "/cache", "",
                     "--vmm", "builtin", "--kernel-args", "test=agent " + kernel_args});
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.insert(argv.end(), {"--", "true"});
        return argv;
    }
    // No hutch-vmm (nor hutch-vm-run) of this VM is left.
    bool nothing_left() const { return processes_mentioning(dir_.path()).empty(); }
    const std::string& dir() const { return dir_.path(); }

private:
    TempDir dir_{"hutch-test-vmm-agent"};
};

}  // namespace

TEST_CASE("builtin VMM: stdin crosses to the agent and back on stdout, stderr and the exit status too",
          "[vmm]") {
    REQUIRE_KVM();
    AgentVm vm;
    // 100 KiB: 25 of the stand-in's 4 KiB reads, more than a socket holds at once.
    std::string input = random_disk(200);  // random bytes, 200 sectors' worth
    auto start = std::chrono::steady_clock::now();
    auto run = run_command(vm.command("mode=echo exit=7"), input);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    INFO(run.err);
    CHECK(run.status == 7);
    CHECK(run.out.size() == input.size());
    CHECK(run.out == input);
    CHECK(run.err == "agent: stdin closed\n");
    CHECK(vm.nothing_left());
    WARN("100 KiB through stdin and back through the builtin VMM in " << took.count() << " s");

    // An empty stdin is closed at once: the port's close reaches the agent with no byte before it.
    auto empty = run_command(vm.command("mode=echo exit=0"));
    INFO(empty.err);
    CHECK(empty.status == 0);
    CHECK(empty.out.empty());
    CHECK(empty.err == "agent: stdin closed\n");
    CHECK(vm.nothing_left());
}

TEST_CASE("builtin VMM: SIGTERM sent to the caller reaches the agent, which exits with 143", "[vmm]") {
    REQUIRE_KVM();
    AgentVm vm;
    RunningVm running(vm.command("mode=signal", {}, false), true);
    std::string out = running.read_until("agent: waiting for a signal\n");
    REQUIRE(out == "agent: waiting for a signal\n");
    REQUIRE(::kill(running.pid, SIGTERM) == 0);
    auto status = running.wait_within(std::chrono::seconds(60));
    std::string err = running.read_until("\n", running.err);
    INFO(err);
    REQUIRE(status);
    CHECK(*status == 143);
    // Said before the exit frame: the stand-in had the signal, hutch-vm-run did not die of it.
    CHECK(running.read_until("agent: got signal 15\n") == "agent: got signal 15\n");
    CHECK(vm.nothing_left());
}

TEST_CASE("builtin VMM: hutch-vmm dies with the process that started it", "[vmm]") {
    REQUIRE_KVM();
    AgentVm vm;
    RunningVm running(vm.command("mode=signal", {}, false));
    REQUIRE(running.read_until("agent: waiting for a signal\n") == "agent: waiting for a signal\n");
    REQUIRE(processes_mentioning(vm.dir()).size() == 2);  // hutch-vm-run and its hutch-vmm
    REQUIRE(::kill(running.pid, SIGKILL) == 0);
    CHECK(running.wait_within(std::chrono::seconds(10)) == 128 + SIGKILL);
    for (int i = 0; i < 50 && !vm.nothing_left(); ++i) ::usleep(100 * 1000);
    CHECK(vm.nothing_left());
}

TEST_CASE("builtin VMM: the images reach the guest bottom first, serials hutch-layer-0 and up", "[vmm]") {
    REQUIRE_KVM();
    AgentVm vm;
    // Each image's first line names it: the guest says which disk holds which.
    std::vector<std::string> flags;
    for (std::string name : {"bottom", "top"}) {
        std::string image = vm.dir() + "/" + name + ".erofs";
        std::ofstream(image, std::ios::binary) << name + "\n" + random_disk(64);
        flags.insert(flags.end(), {"--image", image});
    }
    auto run = run_command(vm.command("mode=disk", flags));
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(run.out == "hutch-layer-0 bottom\nhutch-layer-1 top\n");
    CHECK(vm.nothing_left());
}

TEST_CASE("builtin VMM: the agent's failure frame, or hutch-vmm's, is the run's error and status 125",
          "[vmm]") {
    REQUIRE_KVM();
    AgentVm vm;
    auto run = run_command(vm.command("mode=none-such"));
    CHECK(run.status == 125);
    CHECK(run.out.empty());
    CHECK(run.err == "hutch-vm-run: in the VM: agent stand-in: no known mode= on the command line\n");
    CHECK(vm.nothing_left());

    // hutch-vmm's own failure (its line on the console socket) is the run's error, with that line.
    auto missing = run_command(vm.command("mode=disk", {"--image", vm.dir() + "/missing.erofs"}));
    CHECK(missing.status == 125);
    CHECK_THAT(missing.err, Catch::StartsWith("hutch-vm-run: the VM stopped during its boot (the VMM's exit "
                                              "status 125); its console: hutch-vmm: disk " +
                                              vm.dir() + "/missing.erofs: No such file or directory"));
    CHECK(vm.nothing_left());
}
