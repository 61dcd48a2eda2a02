// What the container's process is given besides its command: the runtime-spec 1.2 kernel
// attributes (scheduler, I/O priority, personality, memory policy), HOME from the container's
// /etc/passwd, socket activation's fds and variables, and SELinux labels where SELinux is off.
// Each is read back from inside the container or from the kernel on the host.
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "harness.h"

using namespace hutch::test;

namespace {

// Field n (1-based, as proc(5) numbers them) of a /proc/PID/stat line; comm holds no blank here.
std::string stat_field(const std::string& stat, size_t n) {
    std::istringstream in(stat);
    std::string field;
    for (size_t i = 0; i < n && in >> field; ++i) {
    }
    return field;
}

pid_t container_pid(const Runtime& rt, const std::string& id) { return rt.state(id).value("pid", -1); }

}  // namespace

TEST_CASE("process.scheduler: the policy and nice value are the process's", "[process]") {
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"cat", "/proc/self/stat"});
    bundle.config["process"]["scheduler"] = {{"policy", "SCHED_BATCH"}, {"nice", 7}};
    bundle.save();
    auto run = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(stat_field(run.out, 19) == "7");  // nice
    CHECK(stat_field(run.out, 41) == "3");  // policy: SCHED_BATCH
}

TEST_CASE("process.scheduler: a priority for a policy that takes none is a one-line error", "[process]") {
    Bundle bundle;
    Runtime rt;
    bundle.config["process"]["scheduler"] = {{"policy", "SCHED_OTHER"}, {"priority", 5}};
    bundle.save();
    std::string id = unique_id();
    auto create = rt({"create", "--bundle", bundle.path(), id});
    CHECK(create.status != 0);
    CHECK(create.err.find("process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority") !=
          std::string::npos);
    CHECK(rt({"state", id}).status != 0);
}

TEST_CASE("process.ioPriority: the kernel reports the class and level asked for", "[process]") {
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args({"sleep", "1000"});
    bundle.config["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_BE"}, {"priority", 6}};
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    pid_t pid = container_pid(rt, id);
    REQUIRE(pid > 0);
    constexpr int kWhoProcess = 1, kClassBestEffort = 2;
    CHECK(::syscall(SYS_ioprio_get, kWhoProcess, pid) == (kClassBestEffort << 13 | 6));
}

TEST_CASE("linux.personality: LINUX32 makes uname report a 32-bit machine", "[process]") {
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"uname", "-m"});
    bundle.config["linux"]["personality"] = {{"domain", "LINUX32"}};
    bundle.save();
    auto run = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.out == "i686\n");

    bundle.config["linux"]["personality"] = {{"domain", "LINUX"}};
    bundle.save();
    auto native = rt({"run", "--bundle", bundle.path(), unique_id()});
    CHECK(native.out == "x86_64\n");
}

TEST_CASE("linux.memoryPolicy: the process's pages follow the policy asked for", "[process]") {
    if (!path_exists("/proc/self/numa_maps")) {
        WARN("skipped: this kernel has no NUMA support (no /proc/self/numa_maps)");
        return;
    }
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"head", "-n", "1", "/proc/self/numa_maps"});
    bundle.config["linux"]["memoryPolicy"] = {{"mode", "MPOL_INTERLEAVE"}, {"nodes", "0"}};
    bundle.save();
    auto run = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.out.find(" interleave:0 ") != std::string::npos);

    bundle.config["linux"]["memoryPolicy"] = {{"mode", "MPOL_BIND"}, {"nodes", ""}};
    bundle.save();
    auto create = rt({"create", "--bundle", bundle.path(), unique_id()});
    CHECK(create.status != 0);
    CHECK(create.err.find("linux.memoryPolicy.nodes: MPOL_BIND needs at least one node") !=
          std::string::npos);
}

TEST_CASE("HOME comes from the container's /etc/passwd when process.env sets none", "[process]") {
    Bundle bundle;
    Runtime rt;
    {
        std::ofstream passwd(bundle.rootfs() + "/etc/passwd", std::ios::app);
        passwd << "builder:x:1000:1000::/home/builder:/bin/sh\n";
    }
    bundle.set_args({"sh", "-c", "echo $HOME"});
    bundle.config["process"]["env"] = {"PATH=/bin"};
    bundle.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    bundle.save();
    auto run = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(run.err);
    CHECK(run.out == "/home/builder\n");

    // A user /etc/passwd does not name gets "/", and a HOME the config sets is kept.
    bundle.config["process"]["user"] = {{"uid", 2000}, {"gid", 2000}};
    bundle.save();
    CHECK(rt({"run", "--bundle", bundle.path(), unique_id()}).out == "/\n");
    bundle.config["process"]["env"] = {"PATH=/bin", "HOME=/srv"};
    bundle.save();
    CHECK(rt({"run", "--bundle", bundle.path(), unique_id()}).out == "/srv\n");

    // exec too.
    std::string id = unique_id();
    bundle.set_args({"sleep", "1000"});
    bundle.config["process"]["env"] = {"PATH=/bin"};
    bundle.config["process"]["user"] = {{"uid", 0}, {"gid", 0}};
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    CHECK(rt({"exec", "--user", "1000", id, "sh", "-c", "echo $HOME"}).out == "/home/builder\n");
}

TEST_CASE("socket activation: LISTEN_FDS fds reach the process, told by LISTEN_FDS and LISTEN_PID",
          "[process]") {
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; ls /proc/self/fd"});
    bundle.save();
    // Two activated fds (3, 4) and one preserved after them (5); 6 is the caller's and stays out.
    // `exec env`: LISTEN_PID names the shell's pid, which hutch-oci then has, as systemd sets it.
    auto run =
        shell("exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null; exec env LISTEN_FDS=2 LISTEN_PID=$$ " +
              hutch_oci_command(rt) + " run --preserve-fds 1 --bundle " + bundle.path() + " " + unique_id());
    INFO(run.err);
    REQUIRE(run.status == 0);
    // ls's own directory fd is the 6 it lists.
    CHECK(run.out == "2 1\n0\n1\n2\n3\n4\n5\n6\n");

    // LISTEN_PID naming another process, or none: the fds were not meant for hutch-oci.
    for (std::string pid : {"LISTEN_PID=1 ", ""}) {
        auto other = shell("exec 3</dev/null 4</dev/null; LISTEN_FDS=2 " + pid + hutch_oci_command(rt) +
                           " run --bundle " + bundle.path() + " " + unique_id());
        REQUIRE(other.status == 0);
        CHECK(other.out == "\n0\n1\n2\n3\n");
    }
}

TEST_CASE("selinuxLabel and mountLabel are accepted and ignored where SELinux is off", "[process]") {
    if (path_exists("/sys/fs/selinux/enforce")) {
        WARN("skipped: SELinux is enabled on this host, so the labels would be applied");
        return;
    }
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"true"});
    bundle.config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0:c1,c2";
    bundle.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2";
    bundle.save();
    auto run = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(run.err);
    CHECK(run.status == 0);
}
