// Attacks on the start path that runc and crun have had CVEs for, each run against hutch-oci:
// each test fails on a runtime without the defence it names.
#include <catch2/catch.hpp>

#include "harness.h"

using namespace hutch::test;

namespace {

// A seccomp profile that answers close_range with EPERM: a runtime that closes the caller's fds
// with close_range after loading the filter leaves them open.
nlohmann::json profile_refusing_close_range() {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", {{{"names", {"close_range"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
}

std::string hutch_oci(const Runtime& rt) { return std::string(HUTCH_OCI_BINARY) + " --root " + rt.root(); }

}  // namespace

// CVE-2024-21626: fds of the caller (3 and 4 here) must not reach the container, whatever its
// seccomp profile says about close_range. ls's own directory fd is the 3 it lists.
TEST_CASE("CVE-2024-21626: no inherited fd reaches the container or an exec'd process", "[attack]") {
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args({"ls", "/proc/self/fd"});
    bundle.config["linux"]["seccomp"] = profile_refusing_close_range();
    bundle.save();
    auto run = shell("exec 3</ 4</dev/null; " + hutch_oci(rt) + " run --bundle " + bundle.path() + " " + id);
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(run.out == "0\n1\n2\n3\n");

    bundle.set_args({"sleep", "1000"});
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    auto exec = shell("exec 3</ 4</dev/null; " + hutch_oci(rt) + " exec " + id + " ls /proc/self/fd");
    INFO(exec.err);
    CHECK(exec.status == 0);
    CHECK(exec.out == "0\n1\n2\n3\n");
    // Preserved on request: fd 3 only.
    auto preserved = shell("exec 3</dev/null 4</dev/null; " + hutch_oci(rt) + " exec --preserve-fds 1 " + id +
                           " ls /proc/self/fd");
    CHECK(preserved.status == 0);
    CHECK(preserved.out == "0\n1\n2\n3\n4\n");
}

// CVE-2024-21626's other half: a cwd that is a magic link to an inherited directory of the host.
TEST_CASE("CVE-2024-21626: a cwd outside the container's root fails safely", "[attack]") {
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args({"pwd"});
    bundle.config["process"]["cwd"] = "/proc/self/fd/3";
    bundle.save();
    auto run =
        shell("exec 3</; " + hutch_oci(rt) + " run --preserve-fds 1 --bundle " + bundle.path() + " " + id);
    CHECK(run.status != 0);
    CHECK(run.err.find("process.cwd: /proc/self/fd/3 is outside the container's root") != std::string::npos);

    bundle.set_args({"sleep", "1000"});
    bundle.config["process"]["cwd"] = "/";
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    auto exec =
        shell("exec 3</; " + hutch_oci(rt) + " exec --preserve-fds 1 --cwd /proc/self/fd/3 " + id + " pwd");
    CHECK(exec.status != 0);
    CHECK(exec.err.find("is outside the container's root") != std::string::npos);
}
