// The cgroup drivers against the host's real cgroups (root): limits land in the cgroup files,
// the kernel enforces them on a process that joined the way a container's first process does,
// and nothing is left behind. Tests named "cgroups v1" check v1 files and run on v1 and hybrid
// hosts; "cgroups v2" ones run on a pure v2 host (the VM test bed); the rest run on every layout.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cgroups/manager.h"
#include "harness.h"

using namespace hutch;
using namespace hutch::test;
using hutch::cgroups::Manager;

namespace {

constexpr int64_t kMiB = 1024 * 1024;
constexpr const char* kCreatedKey = "hutch:created";

std::string unique_name() {
    static int counter = 0;
    return "hutch-test-cg-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// Every directory a manager's paths() name: each hierarchy's leaf and each directory it made.
std::vector<std::string> all_dirs(const std::map<std::string, std::string>& paths) {
    std::vector<std::string> dirs;
    for (const auto& [key, value] : paths) {
        if (key != kCreatedKey) {
            dirs.push_back(value);
            continue;
        }
        std::stringstream lines(value);
        for (std::string line; std::getline(lines, line);) dirs.push_back(line);
    }
    return dirs;
}

// A manager that is destroyed when the test leaves its scope, passed or failed; it remembers the
// directories to check for afterwards.
class TestCgroup {
public:
    // resources: what the manager will be asked for (on a hybrid host, whether it needs the
    // unified hierarchy too).
    explicit TestCgroup(const std::string& cgroups_path = "", const spec::Resources* resources = nullptr) {
        auto made = cgroups::make_manager(cgroups::detect_layout(), cgroups_path, unique_name(), resources);
        REQUIRE(made);
        manager_ = std::move(*made);
        dirs_ = all_dirs(manager_->paths());
    }
    ~TestCgroup() { (void)manager_->destroy(); }
    TestCgroup(const TestCgroup&) = delete;
    TestCgroup& operator=(const TestCgroup&) = delete;

    Manager& operator*() { return *manager_; }
    Manager* operator->() { return manager_.get(); }
    // The directory of controller: on v2 the one directory (the key "").
    std::string dir(const std::string& controller) {
        auto paths = manager_->paths();
        return paths.contains(controller) ? paths.at(controller) : paths.at("");
    }

    ErrorOr<void> create(const spec::Resources* resources) {
        auto result = manager_->create(resources);
        dirs_ = all_dirs(manager_->paths());
        return result;
    }

    void check_nothing_left() {
        for (const std::string& dir : dirs_) {
            INFO(dir);
            CHECK_FALSE(path_exists(dir));
        }
    }

private:
    std::unique_ptr<Manager> manager_;
    std::vector<std::string> dirs_;
};

bool host_is_v2() { return cgroups::detect_layout() == cgroups::Layout::v2; }

// Forks a child that moves itself in through the join files, as a container's first process does
// (on v2, where it would be born inside, through cgroup.procs), then runs body and _exits with its
// result: it never returns into Catch. Returns its pid.
pid_t fork_inside(Manager& manager, int (*body)()) {
    auto fds = manager.open_self_join_files();
    REQUIRE(fds);
    if (manager.clone_target() >= 0) {
        fds->emplace_back(::openat(manager.clone_target(), "cgroup.procs", O_WRONLY | O_CLOEXEC));
        REQUIRE(fds->back());
    }
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (UniqueFd& fd : *fds) {
            if (::write(fd.get(), "0", 1) != 1) ::_exit(120);
        }
        ::_exit(body());
    }
    return pid;
}

// fork_inside, then waits for the child. Returns the wait status.
int run_inside(Manager& manager, int (*body)()) {
    pid_t pid = fork_inside(manager, body);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// The first real disk's "major:minor" (throttling needs a whole disk), or "" when there is none.
std::string first_disk() {
    for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
        std::string name = entry.path().filename();
        if (name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram")) continue;
        return read_text(entry.path() / "dev");
    }
    return "";
}

int touch_64_mib() {
    size_t size = 64 * kMiB;
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return 2;
    for (size_t offset = 0; offset < size; offset += 4096) static_cast<volatile char*>(memory)[offset] = 1;
    return 0;  // not killed: the limit did not hold
}

// Forks until the kernel refuses; returns how many forks succeeded (exit code), 200 on any
// other failure. The forked children wait to be killed here, so nothing outlives the child.
int fork_until_refused() {
    std::vector<pid_t> children;
    int result = 200;
    for (int i = 0; i < 50; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
        if (pid < 0) {
            result = errno == EAGAIN ? static_cast<int>(children.size()) : 201;
            break;
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) ::kill(pid, SIGKILL);
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
    return result;
}

int null_denied_zero_allowed() {
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) return 1;
    if (errno != EPERM) return 2;
    int zero_fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zero_fd < 0) return 3;
    ::close(zero_fd);
    return 0;
}

int sleep_forever() {
    for (;;) ::pause();
}

}  // namespace

TEST_CASE("cgroups v1: limits are written and read back from the cgroup files", "[cgroups]") {
    if (host_is_v2()) {
        WARN(
            "skipped: the host is cgroup v2, whose files this test does not check (see cgroups_v2_test.cpp)");
        return;
    }
    TestCgroup cgroup;
    spec::Resources resources;
    resources.memory = spec::MemoryResources{};
    resources.memory->limit = 64 * kMiB;
    resources.memory->reservation = 32 * kMiB;
    resources.memory->swap = 128 * kMiB;
    resources.memory->swappiness = 10;
    resources.cpu = spec::CpuResources{};
    resources.cpu->shares = 512;
    resources.cpu->period = 100000;
    resources.cpu->quota = 50000;
    resources.cpu->cpus = "0";
    resources.cpu->mems = "0";
    resources.pids_limit = 10;
    resources.block_io = spec::BlockIoResources{};
    resources.block_io->weight = 200;
    std::string disk = first_disk();
    if (!disk.empty()) {
        auto colon = disk.find(':');
        resources.block_io->throttle_read_bps.push_back(
            {std::stoll(disk.substr(0, colon)), std::stoll(disk.substr(colon + 1)), 1048576});
    }
    auto created = cgroup.create(&resources);
    REQUIRE(created);

    std::string memory = cgroup.dir("memory");
    CHECK(read_text(memory + "/memory.limit_in_bytes") == std::to_string(64 * kMiB));
    CHECK(read_text(memory + "/memory.soft_limit_in_bytes") == std::to_string(32 * kMiB));
    CHECK(read_text(memory + "/memory.memsw.limit_in_bytes") == std::to_string(128 * kMiB));
    CHECK(read_text(memory + "/memory.swappiness") == "10");
    CHECK(read_text(cgroup.dir("cpu") + "/cpu.shares") == "512");
    CHECK(read_text(cgroup.dir("cpu") + "/cpu.cfs_quota_us") == "50000");
    CHECK(read_text(cgroup.dir("cpu") + "/cpu.cfs_period_us") == "100000");
    CHECK(read_text(cgroup.dir("cpuset") + "/cpuset.cpus") == "0");
    CHECK(read_text(cgroup.dir("pids") + "/pids.max") == "10");
    std::string blkio = cgroup.dir("blkio");
    std::string weight = path_exists(blkio + "/blkio.weight") ? "/blkio.weight" : "/blkio.bfq.weight";
    CHECK_THAT(read_text(blkio + weight), Catch::Contains("200"));
    if (!disk.empty()) CHECK(read_text(blkio + "/blkio.throttle.read_bps_device") == disk + " 1048576");

    REQUIRE(cgroup->destroy());
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups v1: a new cpuset inherits its parent's CPUs and memory nodes", "[cgroups]") {
    if (host_is_v2()) {
        WARN(
            "skipped: the host is cgroup v2, whose files this test does not check (see cgroups_v2_test.cpp)");
        return;
    }
    TestCgroup cgroup("hutch-test-cg-parent-" + std::to_string(::getpid()) + "/child");
    REQUIRE(cgroup.create(nullptr));
    std::string dir = cgroup.dir("cpuset");
    std::string parent = dir.substr(0, dir.find_last_of('/'));
    CHECK(read_text(dir + "/cpuset.cpus") == read_text(parent + "/cpuset.cpus"));
    CHECK_FALSE(read_text(dir + "/cpuset.mems").empty());
    CHECK(exit_code(run_inside(*cgroup, [] { return 0; })) == 0);  // tasks may join
    REQUIRE(cgroup->destroy());
    cgroup.check_nothing_left();
    CHECK_FALSE(path_exists(parent));  // made for this container, so removed with it
}

TEST_CASE("cgroups v1: a limit the kernel refuses names the field and leaves nothing", "[cgroups]") {
    if (host_is_v2()) {
        WARN(
            "skipped: the host is cgroup v2, whose files this test does not check (see cgroups_v2_test.cpp)");
        return;
    }
    TestCgroup cgroup;
    spec::Resources resources;
    resources.memory = spec::MemoryResources{};
    resources.memory->swappiness = 1000;
    auto created = cgroup.create(&resources);
    REQUIRE_FALSE(created);
    CHECK_THAT(created.error().message,
               Catch::StartsWith("linux.resources.memory.swappiness: write 1000 to "));
    CHECK_THAT(created.error().message, Catch::Contains("memory.swappiness: Invalid argument"));
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups v1: limits this host cannot give are refused", "[cgroups]") {
    if (host_is_v2()) {
        WARN(
            "skipped: the host is cgroup v2, whose files this test does not check (see cgroups_v2_test.cpp)");
        return;
    }
    TestCgroup cgroup;
    spec::Resources resources;
    SECTION("net_cls is not mounted") {
        resources.network = spec::NetworkResources{.class_id = 0x100001, .priorities = {}};
        auto created = cgroup.create(&resources);
        REQUIRE_FALSE(created);
        CHECK(created.error().message ==
              "linux.resources.network: the net_cls controller is not mounted on this host");
    }
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups: a process over its memory limit is OOM-killed", "[cgroups]") {
    TestCgroup cgroup;
    spec::Resources resources;
    resources.memory = spec::MemoryResources{};
    resources.memory->limit = 32 * kMiB;
    // With swap on the host, memory+swap = memory leaves none to escape into; then the memsw
    // counter is charged first and is the one that fails.
    bool host_swaps = read_text("/proc/swaps").find('\n') != std::string::npos;
    if (host_swaps) resources.memory->swap = 32 * kMiB;
    REQUIRE(cgroup.create(&resources));
    int status = run_inside(*cgroup, touch_64_mib);
    CHECK(exit_code(status) == 128 + SIGKILL);
    if (host_is_v2()) {
        CHECK_THAT(read_text(cgroup.dir("memory") + "/memory.events"), Catch::Contains("oom_kill 1"));
    } else {
        std::string failcnt = host_swaps ? "/memory.memsw.failcnt" : "/memory.failcnt";
        CHECK(std::stoll(read_text(cgroup.dir("memory") + failcnt)) > 0);
    }
    REQUIRE(cgroup->destroy());
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups: pids.max stops fork with EAGAIN", "[cgroups]") {
    TestCgroup cgroup;
    spec::Resources resources;
    resources.pids_limit = 10;
    REQUIRE(cgroup.create(&resources));
    // The child itself is one of the ten.
    CHECK(exit_code(run_inside(*cgroup, fork_until_refused)) == 9);
    REQUIRE(cgroup->destroy());
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups v1: a device rule denies /dev/null while /dev/zero stays allowed", "[cgroups]") {
    if (host_is_v2()) {
        WARN(
            "skipped: the host is cgroup v2, whose files this test does not check (see cgroups_v2_test.cpp)");
        return;
    }
    TestCgroup cgroup;
    spec::Resources resources;
    resources.devices.push_back({.allow = false, .type = "a", .major = {}, .minor = {}, .access = "rwm"});
    resources.devices.push_back({.allow = false, .type = "c", .major = 1, .minor = 3, .access = "rwm"});
    REQUIRE(cgroup.create(&resources));
    std::string list = read_text(cgroup.dir("devices") + "/devices.list");
    CHECK_THAT(list, Catch::Contains("c 1:5 rwm"));
    CHECK_THAT(list, !Catch::Contains("c 1:3 "));
    CHECK_THAT(list, !Catch::Contains("a *:*"));
    CHECK(exit_code(run_inside(*cgroup, null_denied_zero_allowed)) == 0);
    REQUIRE(cgroup->destroy());
    cgroup.check_nothing_left();
}

TEST_CASE("cgroups: a manager reopened from paths() kills what is inside and removes its cgroups",
          "[cgroups]") {
    TestCgroup cgroup;
    REQUIRE(cgroup.create(nullptr));
    pid_t pid = fork_inside(*cgroup, sleep_forever);
    // The child is inside once its pid shows in the cgroup.
    eventually([&] { return !cgroup->pids().value_or(std::vector<pid_t>{}).empty(); });
    auto pids = cgroup->pids();
    REQUIRE(pids);
    CHECK(*pids == std::vector<pid_t>{pid});

    auto reopened = cgroups::manager_from_paths(cgroup->paths());
    auto destroyed = reopened->destroy();
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(destroyed);
    CHECK(exit_code(status) == 128 + SIGKILL);
    cgroup.check_nothing_left();
    CHECK(reopened->destroy());  // idempotent
}

TEST_CASE("cgroups: a cgroup that already exists is neither used nor removed", "[cgroups]") {
    TestCgroup first;
    REQUIRE(first.create(nullptr));
    std::string memory = first.dir("memory");
    auto second = cgroups::make_manager(cgroups::detect_layout(), memory.substr(memory.find_last_of('/') + 1),
                                        "ignored", nullptr);
    REQUIRE(second);
    auto created = (*second)->create(nullptr);
    REQUIRE_FALSE(created);
    CHECK_THAT(created.error().message, Catch::Contains("already exists"));
    CHECK((*second)->destroy());
    CHECK(path_exists(memory));
    REQUIRE(first->destroy());
    first.check_nothing_left();
}

TEST_CASE("cgroups: cgroupsPath with \"..\" is refused before anything is made", "[cgroups]") {
    auto made = cgroups::make_manager(cgroups::detect_layout(), "hutch-test-x/../../escape", "id", nullptr);
    REQUIRE_FALSE(made);
    CHECK_THAT(made.error().message, Catch::Contains("\"..\""));
}
