// hutch-vmm, the builtin VMM's process (cli/hutch_vmm.cpp): the guest's serial console on its
// stdout and the guest's exit code as its status, devices given as key=value lists, and a bad
// command line refused in one line with status 125 before any VM exists.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "harness.h"
#include "vmm_guest.h"

using hutch::test::run_command;

namespace {

hutch::test::CommandResult hutch_vmm(std::vector<std::string> args) {
    args.insert(args.begin(), HUTCH_VMM_BINARY);
    return run_command(args);
}

}  // namespace

TEST_CASE("hutch-vmm boots a guest, prints its console and exits with the guest's code", "[vmm]") {
    REQUIRE_KVM();
    auto run =
        hutch_vmm({"--kernel", HUTCH_VM_GUEST, "--cmdline", "test=exit code=3", "--timeout-ms", "20000"});
    INFO(run.err);
    CHECK(run.status == 3);
    CHECK(run.out == "guest: cmdline: test=exit code=3\n");
}

TEST_CASE("hutch-vmm hands a read-only disk with its serial to the guest", "[vmm]") {
    REQUIRE_KVM();
    hutch::test::TempDir dir("hutch-vmm-test");
    std::string disk = dir.path() + "/disk";
    REQUIRE(hutch::test::shell("head -c 4096 /dev/zero > " + disk).status == 0);
    auto run =
        hutch_vmm({"--kernel", HUTCH_VM_GUEST, "--cmdline", "test=virtio_blk capacity=8 ro=1 op=id", "--disk",
                   "path=" + disk + ",readonly=on,serial=hutch-layer-0", "--timeout-ms", "20000"});
    INFO(run.out << run.err);
    CHECK(run.status == 0);
    CHECK_THAT(run.out, Catch::Contains("guest: disk id hutch-layer-0\n"));
}

TEST_CASE("hutch-vmm refuses a port on an fd that is not a socket, in one line", "[vmm]") {
    REQUIRE_KVM();  // the device checks it, once the VM exists
    auto run = hutch_vmm({"--kernel", HUTCH_VM_GUEST, "--port", "name=hutch.control,fd=99"});
    CHECK(run.status == 125);
    CHECK(run.err ==
          "hutch-vmm: console port hutch.control: fd 99 is not a usable socket: Bad file descriptor\n");
}

TEST_CASE("hutch-vmm refuses a bad command line in one line, status 125", "[vmm]") {
    auto [args, expected] = GENERATE(table<std::vector<std::string>, std::string>({
        {{"--disk", "path=/dev/null,bogus=1"}, "hutch-vmm: --disk path=/dev/null,bogus=1: unknown key bogus"},
        {{"--disk", "readonly=on"}, "hutch-vmm: --disk readonly=on: path= is required"},
        {{"--disk", "path=/x,readonly=yes"},
         "hutch-vmm: --disk path=/x,readonly=yes: readonly=yes: expected on or off"},
        {{"--pmem", "path=/x,path=/y"}, "hutch-vmm: --pmem path=/x,path=/y: path given twice"},
        {{"--memory", "0"}, "hutch-vmm: memory: 0 MiB, not between 2 and"},
        {{"--vcpus", "255"}, "hutch-vmm: vCPUs: 255, not between 1 and 254"},
        {{"--port", "name=hutch.control,fd=1"},
         "hutch-vmm: --port name=hutch.control,fd=1: fd=1: expected an inherited fd"},
        {{"--port", "fd=4"}, "hutch-vmm: --port fd=4: name= is required"},
    }));
    args.insert(args.begin(), {"--kernel", HUTCH_VM_GUEST});
    auto run = hutch_vmm(args);
    CHECK(run.status == 125);
    CHECK(run.out.empty());
    CHECK_THAT(run.err, Catch::StartsWith(expected));
    CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
}
