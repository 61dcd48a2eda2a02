// hutch run's choice between this host and a microVM (cli/hutch/backend_choice.h), where no VM
// has to boot: an image whose kernel labels this host satisfies runs here without a word; one it
// does not is refused, in one line, by --vm=never and by create, and a guest kernel that cannot
// run it either is never booted. The fallback that boots a VM is in microvm_qemu_test.cpp.
#include <sys/utsname.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "hutch_command.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

std::string host_release() {
    struct utsname uts {};
    REQUIRE(::uname(&uts) == 0);
    return uts.release;
}

// A kernel version above this host's: its major plus one.
std::string above_host() { return std::to_string(std::stol(host_release()) + 1) + ".0"; }

// root's store holding a busybox image named name whose config carries labels.
void load_labelled(const TempDir& root, const std::string& name, const nlohmann::json& labels) {
    TestImage image = busybox_image({{"Labels", labels}});
    check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), name}));
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("hutch run: an image whose kernel labels this host satisfies runs here, without a notice",
          "[hutch-run]") {
    TempDir root;
    ContainerSweeper sweep(root);
    load_labelled(
        root, "localhost/fits:1",
        {{"org.hutch.kernel.min-version", "3.0"}, {"org.hutch.kernel.config", "CONFIG_NAMESPACES"}});
    for (std::string mode : {"--vm=auto", "--vm=never"}) {
        INFO(mode);
        auto r = hutch_cmd(root, {"run", "--rm", mode, "localhost/fits:1", "uname", "-r"});
        check_ok(r);
        CHECK(r.out == host_release() + "\n");  // the host's own kernel: not a VM's
        CHECK(r.err.empty());
    }
}

TEST_CASE("hutch run: an image this host's kernel cannot run is refused by --vm=never and by create",
          "[hutch-run]") {
    TempDir root;
    ContainerSweeper sweep(root);
    load_labelled(root, "localhost/newer:1", {{"org.hutch.kernel.min-version", above_host()}});

    auto never = hutch_cmd(root, {"run", "--rm", "--vm=never", "localhost/newer:1", "true"});
    check_one_line_failure(never);
    CHECK(has(never.err,
              "hutch: localhost/newer:1 cannot run on this host: it needs kernel >= " + above_host()));
    CHECK(has(never.err, "--vm=never"));

    auto create = hutch_cmd(root, {"create", "localhost/newer:1", "true"});
    check_one_line_failure(create);
    CHECK(has(create.err, "cannot run on this host"));
    check_one_line_failure(hutch_cmd(root, {"create", "--vm", "localhost/newer:1", "true"}));

    // A guest kernel without its config beside it cannot be checked, so it is not booted.
    TempDir no_kernel;
    auto unchecked = hutch_cmd(
        root, {"run", "--rm", "--vm-kernel", no_kernel.path() + "/vmlinux", "localhost/newer:1", "true"});
    check_one_line_failure(unchecked);
    CHECK(has(unchecked.err, "nor in a microVM"));
    CHECK(has(unchecked.err, no_kernel.path() + "/config"));

    auto ps = hutch_cmd(root, {"ps", "-a", "--format", "json"});
    check_ok(ps);
    CHECK(nlohmann::json::parse(ps.out).empty());  // nothing was made
}

TEST_CASE(
    "hutch run: a malformed kernel label or --vm value is one line, and --vm IMAGE takes IMAGE as the image",
    "[hutch-run]") {
    TempDir root;
    ContainerSweeper sweep(root);
    load_labelled(root, "localhost/bad:1", {{"org.hutch.kernel.config", "CONFIG_OK,bpf lsm"}});
    load_labelled(root, "localhost/plain:1", nlohmann::json::object());

    auto bad = hutch_cmd(root, {"run", "--rm", "localhost/bad:1", "true"});
    check_one_line_failure(bad);
    CHECK(has(bad.err, "image label org.hutch.kernel.config: \"bpf lsm\""));

    auto mode = hutch_cmd(root, {"run", "--rm", "--vm=sometimes", "localhost/plain:1", "true"});
    check_one_line_failure(mode);
    CHECK(has(mode.err, "--vm=sometimes: expected"));

    // Bare --vm takes no value: the next word is still the image (here, the VM's missing kernel
    // is what stops it, after the image was found).
    TempDir no_kernel;
    auto bare = hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", no_kernel.path() + "/vmlinux",
                                 "localhost/plain:1", "true"});
    check_one_line_failure(bare);
    CHECK_FALSE(has(bare.err, "image is required"));
    CHECK_FALSE(has(bare.err, "localhost/plain:1"));
    CHECK(has(bare.err, "vmlinux"));
}
