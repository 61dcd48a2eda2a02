// The `hutch` command with an image of a real distribution: a Debian rootfs made by debootstrap
// (scripts/debian-rootfs.sh, once, cached in /var/cache/hutch), imported as an image, run with
// its own dynamically linked programs, and with users named in its own /etc/passwd.
#include <catch2/catch.hpp>

#include "harness.h"
#include "hutch_command.h"

using namespace hutch::test;

namespace {

std::string debian_rootfs() {
    const std::string key = "/var/cache/hutch/debian-bookworm-minbase";
    auto made = run_command({HUTCH_SOURCE_DIR "/scripts/debian-rootfs.sh", key});
    INFO("scripts/debian-rootfs.sh: " << made.err);
    REQUIRE(made.status == 0);
    return key + "/rootfs";
}

}  // namespace

TEST_CASE("hutch: a debootstrapped Debian as an image: its programs, its users, exec", "[hutch-run][bulk]") {
    std::string rootfs = debian_rootfs();
    TempDir root;
    ContainerSweeper sweep(root);
    check_ok(hutch_cmd(root, {"import", "-c", R"(CMD ["/bin/bash"])", rootfs, "localhost/debian:12"}));

    // _apt is Debian's own user (42, primary group nogroup), known only to the image's passwd.
    auto ran = hutch_cmd(root, {"run", "--rm", "-u", "_apt", "localhost/debian:12", "sh", "-c",
                                "id; cat /etc/debian_version; env --version | head -n 1"});
    check_ok(ran);
    CHECK(ran.out.starts_with("uid=42(_apt) gid=65534(nogroup) groups=65534(nogroup)\n12."));
    CHECK(ran.out.find("env (GNU coreutils)") != std::string::npos);

    auto started = hutch_cmd(root, {"run", "-d", "--name", "deb", "localhost/debian:12", "sleep", "1000"});
    check_ok(started);
    auto exec = hutch_cmd(root, {"exec", "-u", "daemon", "deb", "bash", "-c", "echo $BASH_VERSION; id -un"});
    check_ok(exec);
    CHECK(exec.out.starts_with("5."));
    CHECK(exec.out.ends_with("daemon\n"));
    check_ok(hutch_cmd(root, {"rm", "-f", "deb"}));
    CHECK(host_mounts_matching(root.path()).empty());
}
