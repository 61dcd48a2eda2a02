// The cgroup v2 driver against a real cgroup2 hierarchy: on a pure v2 host (the VM test bed) the
// container's whole cgroup; on a hybrid host, the unified half, which holds hugetlb and takes a
// device program. Each test says why it is skipped on a host that cannot run it.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "cgroups/device_program.h"
#include "cgroups/manager.h"
#include "harness.h"

using namespace hutch;
using namespace hutch::test;

namespace {

std::string unique_name() {
    static int counter = 0;
    return "hutch-test-v2-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// A manager made for resources on this host's layout, destroyed when the test leaves its scope.
class V2Cgroup {
public:
    explicit V2Cgroup(const spec::Resources& resources) {
        auto made = cgroups::make_manager(cgroups::detect_layout(), "", unique_name(), &resources);
        REQUIRE(made);
        manager_ = std::move(*made);
        result_ = manager_->create(&resources);
    }
    ~V2Cgroup() { (void)manager_->destroy(); }
    cgroups::Manager* operator->() { return manager_.get(); }
    const ErrorOr<void>& created() const { return result_; }
    std::string dir() const { return manager_->paths().at(""); }

    // Clones a child straight into the cgroup (as a container's first process is born), runs body
    // there and returns its exit code.
    int run_inside(int (*body)()) {
        struct clone_args args = {};
        args.flags = CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(manager_->clone_target());
        args.exit_signal = SIGCHLD;
        pid_t pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
        REQUIRE(pid >= 0);
        if (pid == 0) ::_exit(body());
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    std::unique_ptr<cgroups::Manager> manager_;
    ErrorOr<void> result_;
};

bool pure_v2() { return cgroups::detect_layout() == cgroups::Layout::v2; }

#define REQUIRE_PURE_V2()                                                                           \
    if (!pure_v2()) {                                                                               \
        WARN("skipped: the host is not a pure cgroup v2 host; tests/vm runs this test in a guest"); \
        return;                                                                                     \
    }

int null_denied_zero_allowed() {
    if (::open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) return 1;
    if (errno != EPERM) return 2;
    int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zero < 0) return 3;
    ::close(zero);
    return 0;
}

int read_one_page_of_zero() {
    int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    return zero < 0 ? 1 : 0;
}

}  // namespace

TEST_CASE("cgroups v2: limits land in the v2 files as runc maps them", "[cgroups]") {
    REQUIRE_PURE_V2();
    spec::Resources resources;
    resources.memory = spec::MemoryResources{};
    resources.memory->limit = 64 << 20;
    resources.memory->reservation = 32 << 20;
    resources.memory->swap = 96 << 20;
    resources.cpu = spec::CpuResources{};
    resources.cpu->shares = 1024;
    resources.cpu->quota = 50000;
    resources.cpu->period = 100000;
    resources.cpu->cpus = "0";
    resources.pids_limit = 20;
    resources.unified["memory.high"] = "50331648";
    V2Cgroup cgroup(resources);
    REQUIRE(cgroup.created());
    std::string dir = cgroup.dir();
    CHECK(read_text(dir + "/memory.max") == std::to_string(64 << 20));
    CHECK(read_text(dir + "/memory.low") == std::to_string(32 << 20));
    if (path_exists(dir + "/memory.swap.max"))
        CHECK(read_text(dir + "/memory.swap.max") == std::to_string(32 << 20));
    CHECK(read_text(dir + "/memory.high") == "50331648");
    CHECK(read_text(dir + "/cpu.weight") == "39");
    CHECK(read_text(dir + "/cpu.max") == "50000 100000");
    CHECK(read_text(dir + "/cpuset.cpus") == "0");
    CHECK(read_text(dir + "/pids.max") == "20");
}

TEST_CASE("cgroups v2: fields without a v2 file, and unknown unified keys, are refused by name",
          "[cgroups]") {
    REQUIRE_PURE_V2();
    spec::Resources resources;
    SECTION("swappiness") {
        resources.memory = spec::MemoryResources{};
        resources.memory->swappiness = 10;
        V2Cgroup cgroup(resources);
        REQUIRE_FALSE(cgroup.created());
        CHECK(cgroup.created().error().message ==
              "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness");
    }
    SECTION("network classes") {
        resources.network = spec::NetworkResources{.class_id = 1, .priorities = {}};
        V2Cgroup cgroup(resources);
        REQUIRE_FALSE(cgroup.created());
        CHECK_THAT(cgroup.created().error().message, Catch::StartsWith("linux.resources.network: "));
    }
    SECTION("a unified key of a controller that is not there") {
        resources.unified["nosuch.max"] = "1";
        V2Cgroup cgroup(resources);
        REQUIRE_FALSE(cgroup.created());
        CHECK_THAT(cgroup.created().error().message,
                   Catch::StartsWith(
                       "linux.resources.unified[\"nosuch.max\"]: the nosuch controller is not enabled"));
    }
}

TEST_CASE("cgroups v2: the device program denies /dev/null and allows /dev/zero", "[cgroups]") {
    REQUIRE_PURE_V2();
    spec::Resources resources;
    resources.devices.push_back({.allow = false, .type = "c", .major = 1, .minor = 3, .access = "rwm"});
    V2Cgroup cgroup(resources);
    REQUIRE(cgroup.created());
    CHECK(cgroup.run_inside(null_denied_zero_allowed) == 0);
}

TEST_CASE("cgroups v2: freeze stops every process, thaw lets it go on", "[cgroups]") {
    REQUIRE_PURE_V2();
    V2Cgroup cgroup(spec::Resources{});
    REQUIRE(cgroup.created());
    REQUIRE(cgroup->freeze());
    CHECK(cgroup->is_frozen().value_or(false));
    CHECK_THAT(read_text(cgroup.dir() + "/cgroup.events"), Catch::Contains("frozen 1"));
    REQUIRE(cgroup->thaw());
    CHECK_FALSE(cgroup->is_frozen().value_or(true));
}

TEST_CASE("cgroups v2: update lowers memory.max of a live cgroup", "[cgroups]") {
    REQUIRE_PURE_V2();
    spec::Resources resources;
    resources.memory = spec::MemoryResources{};
    resources.memory->limit = 256 << 20;
    V2Cgroup cgroup(resources);
    REQUIRE(cgroup.created());
    spec::Resources lower;
    lower.memory = spec::MemoryResources{};
    lower.memory->limit = 32 << 20;
    REQUIRE(cgroup->update(lower));
    CHECK(read_text(cgroup.dir() + "/memory.max") == std::to_string(32 << 20));
    spec::Resources devices;
    devices.devices.push_back({.allow = true, .type = "a", .major = {}, .minor = {}, .access = "rwm"});
    auto refused = cgroup->update(devices);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::StartsWith("linux.resources.devices: "));
}

TEST_CASE("cgroups hybrid: hugepageLimits go to the unified hierarchy where hugetlb lives", "[cgroups]") {
    if (cgroups::detect_layout() != cgroups::Layout::hybrid ||
        read_text("/sys/fs/cgroup/unified/cgroup.controllers").find("hugetlb") == std::string::npos) {
        WARN("skipped: needs a hybrid host whose cgroup2 mount holds the hugetlb controller");
        return;
    }
    if (!path_exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
        WARN("skipped: this kernel has no 2 MB huge pages");
        return;
    }
    spec::Resources resources;
    resources.hugepage_limits.push_back({"2MB", 4 << 20});
    V2Cgroup cgroup(resources);
    REQUIRE(cgroup.created());
    std::string dir = cgroup.dir();
    CHECK(dir.starts_with("/sys/fs/cgroup/unified/"));
    CHECK(read_text(dir + "/hugetlb.2MB.max") == std::to_string(4 << 20));
    CHECK(cgroup.run_inside(read_one_page_of_zero) ==
          0);  // born in the unified cgroup: no device program there
}

TEST_CASE("cgroups v2: a device program on a cgroup2 directory is enforced (also on hybrid hosts)",
          "[cgroups]") {
    cgroups::Layout layout = cgroups::detect_layout();
    if (layout == cgroups::Layout::v1) {
        WARN("skipped: the host has no cgroup2 hierarchy");
        return;
    }
    std::string root = layout == cgroups::Layout::v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    std::string dir = root + "/" + unique_name();
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    struct Remove {
        std::string dir;
        ~Remove() { ::rmdir(dir.c_str()); }
    } remove{dir};
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
    cgroups::DevicePolicy policy = cgroups::device_policy(
        cgroups::device_writes({{.allow = false, .type = "c", .major = 1, .minor = 3, .access = "rwm"}}));
    REQUIRE(cgroups::attach_device_program(fd.get(), policy));
    struct clone_args args = {};
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(fd.get());
    args.exit_signal = SIGCHLD;
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(null_denied_zero_allowed());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
