// hutch-oci running a bundle in a microVM: config.json's annotation run.oci.handler=microvm
// (runtime/backend.h), its pid hutch-vm-relay, QEMU and hutch-agent behind it. Each VM test boots
// a VM (seconds under TCG), so the tag is hidden ([.microvm-qemu]: tests/CMakeLists.txt lists
// them after the guest kernel is built). No QEMU, relay or state directory outlives one.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "harness.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

bool on_path(const std::string& tool) { return shell("command -v " + tool + " >/dev/null").status == 0; }

std::optional<std::string> missing_tool() {
    if (!on_path("qemu-system-x86_64")) return "qemu-system-x86_64 is missing (qemu-system-x86)";
    if (!on_path("mkfs.erofs")) return "mkfs.erofs is missing (erofs-utils)";
    return std::nullopt;
}

// As microvm_qemu_test.cpp gets it: the fixture "vm: guest kernel is built" made it already.
std::string guest_kernel() {
    if (const char* kernel = std::getenv("HUTCH_GUEST_KERNEL")) return kernel;
    auto built = run_command({std::string(HUTCH_SOURCE_DIR) + "/microvm/guest-kernel/build.sh"});
    REQUIRE(built.status == 0);
    return built.out.substr(0, built.out.find('\n')) + "/vmlinux";
}

// QEMU dies by its parent-death signal once the relay is killed: a moment after, not at once.
bool none_left(const std::string& needle) {
    for (int i = 0; i < 100; ++i) {
        if (processes_mentioning(needle).empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// A busybox bundle for the microVM, and a runtime whose root the cleanup looks for: whatever the
// test did, no relay or QEMU of it is left (the Runtime's destructor deletes its containers too).
struct VmBundle {
    Runtime rt;
    Bundle bundle;
    explicit VmBundle(const std::vector<std::string>& args) {
        bundle.set_args(args);
        bundle.config["annotations"] = {{"run.oci.handler", "microvm"},
                                        {"run.oci.microvm.kernel", guest_kernel()}};
        bundle.save();
    }
    ~VmBundle() {
        for (pid_t pid : processes_mentioning(rt.root())) ::kill(pid, SIGKILL);
    }
};

// Catch2 2 has no SKIP: the reason is a warning in the report, and the test passes.
#define SKIP_WITHOUT_QEMU()              \
    if (auto missing = missing_tool()) { \
        WARN("skipped: " + *missing);    \
        return;                          \
    }

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("hutch-oci run with run.oci.handler=microvm prints the process's output and returns its status",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sh", "-c", "echo hello from the guest; exit 7"});
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm1"});
    INFO(result.err);
    CHECK(result.status == 7);
    CHECK(result.out == "hello from the guest\n");
    CHECK(!exists(vm.rt.root() + "/vm1"));
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci's microVM gets config.json's memory, CPU and pids limits, sized and enforced inside",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm(
        {"sh", "-c",
         "cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $cg/memory.max $cg/cpu.max $cg/pids.max; "
         "nproc"});
    vm.bundle.config["linux"]["resources"] = {{"memory", {{"limit", 96 << 20}}},
                                              {"cpu", {{"quota", 50000}, {"period", 50000}}},
                                              {"pids", {{"limit", 7}}}};
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm-limits"});
    INFO(result.err);
    CHECK(result.status == 0);
    CHECK(result.out == std::to_string(96 << 20) + "\n50000 50000\n7\n1\n");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci create, start, kill and delete a microVM container", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sleep", "100"});
    auto created = vm.rt({"create", "--bundle", vm.bundle.path(), "vm2"});
    INFO(created.err);
    REQUIRE(created.status == 0);
    auto state = vm.rt.state("vm2");
    CHECK(state.value("status", "") == "created");
    CHECK(state.value("pid", 0) > 0);
    REQUIRE(vm.rt({"start", "vm2"}).status == 0);
    CHECK(vm.rt.state("vm2").value("status", "") == "running");
    // The relay forwards it to the guest's sleep, and exits with its status when it is gone.
    REQUIRE(vm.rt({"kill", "vm2", "TERM"}).status == 0);
    std::string status;
    for (int i = 0; i < 600 && status != "stopped"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        status = vm.rt.state("vm2").value("status", "");
    }
    CHECK(status == "stopped");
    auto deleted = vm.rt({"delete", "vm2"});
    INFO(deleted.err);
    CHECK(deleted.status == 0);
    CHECK(!exists(vm.rt.root() + "/vm2"));
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci delete --force of a running microVM container leaves no QEMU", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sleep", "100"});
    REQUIRE(vm.rt({"create", "--bundle", vm.bundle.path(), "vm3"}).status == 0);
    REQUIRE(vm.rt({"start", "vm3"}).status == 0);
    CHECK(vm.rt({"delete", "--force", "vm3"}).status == 0);
    CHECK(!exists(vm.rt.root() + "/vm3"));
    CHECK(none_left(vm.rt.root()));
}

// No VM is booted: the handler is refused before anything is made.
TEST_CASE("hutch-oci refuses an unknown run.oci.handler in one line", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.config["annotations"] = {{"run.oci.handler", "krun"}};
    bundle.save();
    auto result = rt({"run", "--bundle", bundle.path(), "handler"});
    CHECK(result.status != 0);
    CHECK(result.err.find("run.oci.handler=krun: unknown handler (hutch knows microvm)") !=
          std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(!exists(rt.root() + "/handler"));
}
