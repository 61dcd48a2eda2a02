// Attacks on the start path that runc and crun have had CVEs for, each run against hutch-oci:
// each test fails on a runtime without the defence it names.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// A seccomp profile that answers close_range with EPERM: a runtime that closes the caller's fds
// with close_range after loading the filter leaves them open.
nlohmann::json profile_refusing_close_range() {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", {{{"names", {"close_range"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
}

// Swaps two names of a directory (renameat2 RENAME_EXCHANGE) in a tight loop on a thread of its
// own, as a process sharing a volume with the container could, until it goes out of scope.
class Swapper {
public:
    Swapper(const std::string& dir, std::string a, std::string b)
        : dir_(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)), a_(std::move(a)), b_(std::move(b)) {
        if (dir_ < 0) throw std::runtime_error("open " + dir);
        thread_ = std::thread([this] {
            while (!stop_.load(std::memory_order_relaxed))
                if (::renameat2(dir_, a_.c_str(), dir_, b_.c_str(), RENAME_EXCHANGE) == 0) ++swaps_;
        });
    }
    ~Swapper() {
        stop_ = true;
        thread_.join();
        ::close(dir_);
    }
    Swapper(const Swapper&) = delete;
    Swapper& operator=(const Swapper&) = delete;
    long swaps() const { return swaps_; }

private:
    int dir_;
    std::string a_, b_;
    std::atomic<bool> stop_{false};
    std::atomic<long> swaps_{0};
    std::thread thread_;
};

// The per-mount options ("ro,nosuid,relatime") of each mount in pid's mount table whose root (the
// directory of its filesystem that it shows) is a directory named `name`: the binds of it.
std::vector<std::string> options_of_binds(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point, options;
        f >> id >> parent >> dev >> root >> point >> options;
        if (root.ends_with("/" + name)) out.push_back(options);
    }
    return out;
}

bool read_only(const std::string& options) { return ("," + options + ",").find(",ro,") != std::string::npos; }

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
    auto run =
        shell("exec 3</ 4</dev/null; " + hutch_oci_command(rt) + " run --bundle " + bundle.path() + " " + id);
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(run.out == "0\n1\n2\n3\n");

    bundle.set_args({"sleep", "1000"});
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    auto exec = shell("exec 3</ 4</dev/null; " + hutch_oci_command(rt) + " exec " + id + " ls /proc/self/fd");
    INFO(exec.err);
    CHECK(exec.status == 0);
    CHECK(exec.out == "0\n1\n2\n3\n");
    // Preserved on request: fd 3 only.
    auto preserved = shell("exec 3</dev/null 4</dev/null; " + hutch_oci_command(rt) +
                           " exec --preserve-fds 1 " + id + " ls /proc/self/fd");
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
    auto run = shell("exec 3</; " + hutch_oci_command(rt) + " run --preserve-fds 1 --bundle " +
                     bundle.path() + " " + id);
    CHECK(run.status != 0);
    CHECK(run.err.find("process.cwd: /proc/self/fd/3 is outside the container's root") != std::string::npos);

    bundle.set_args({"sleep", "1000"});
    bundle.config["process"]["cwd"] = "/";
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    auto exec = shell("exec 3</; " + hutch_oci_command(rt) + " exec --preserve-fds 1 --cwd /proc/self/fd/3 " +
                      id + " pwd");
    CHECK(exec.status != 0);
    CHECK(exec.err.find("is outside the container's root") != std::string::npos);
}

// CVE-2021-30465: a mount's flags must be set on the mount that was made, never on whatever its
// destination resolves to a second time. A process on the host swaps, in a tight loop, a directory
// of the rootfs (which it shares, as it would a volume) with a symlink to another mount's
// destination, while containers are created: a runtime that resolves the destination again to
// remount the bind read-only remounts the other mount instead and leaves the bind writable.
TEST_CASE("CVE-2021-30465: a racing symlink swap cannot redirect a bind's read-only remount", "[attack]") {
    constexpr int kTries = 40;
    constexpr int kReadOnlyBinds = 16;  // each one a chance for the race, in every container
    Bundle bundle;
    Runtime rt;
    TempDir ro_source("hutch-attack-ro");
    TempDir rw_source("hutch-attack-rw");
    std::string ro_name = fs::path(ro_source.path()).filename();
    std::string rw_name = fs::path(rw_source.path()).filename();
    std::string volume = bundle.rootfs() + "/vol";
    fs::create_directories(volume + "/a");
    fs::create_directories(bundle.rootfs() + "/rw");
    fs::create_symlink("/rw", volume + "/a_link");
    bundle.set_args({"sleep", "1000"});
    auto bind = [](const std::string& destination, const std::string& source, const char* access) {
        return nlohmann::json{{"destination", destination},
                              {"type", "bind"},
                              {"source", source},
                              {"options", {"bind", access}}};
    };
    bundle.config["mounts"].push_back(bind("/rw", rw_source.path(), "rw"));
    for (int i = 0; i < kReadOnlyBinds; ++i)
        bundle.config["mounts"].push_back(bind("/vol/a", ro_source.path(), "ro"));
    bundle.save();

    int failed_creates = 0, writable_binds = 0, rw_made_ro = 0;
    std::string first_failure;
    {
        Swapper swapper(volume, "a", "a_link");
        for (int i = 0; i < kTries; ++i) {
            std::string id = unique_id("hutch-attack");
            auto create = rt({"create", "--bundle", bundle.path(), id});
            if (create.status != 0) {
                ++failed_creates;
                if (first_failure.empty()) first_failure = "create: " + create.err;
                rt({"delete", "--force", id});
                continue;
            }
            pid_t pid = rt.state(id).value("pid", 0);
            auto ro = options_of_binds(pid, ro_name);
            auto rw = options_of_binds(pid, rw_name);
            bool bad_ro = ro.empty() || !std::ranges::all_of(ro, read_only);
            bool bad_rw = rw.empty() || std::ranges::any_of(rw, read_only);
            writable_binds += bad_ro;
            rw_made_ro += bad_rw;
            if ((bad_ro || bad_rw) && first_failure.empty())
                first_failure =
                    "ro binds " + nlohmann::json(ro).dump() + ", rw bind " + nlohmann::json(rw).dump();
            rt({"delete", "--force", id});
        }
        INFO("swaps: " << swapper.swaps());
        CHECK(swapper.swaps() > 0);
    }
    INFO("of " << kTries << " containers: " << failed_creates << " not created, " << writable_binds
               << " with a writable ro bind, " << rw_made_ro
               << " with the rw mount made read-only; first: " << first_failure);
    CHECK(failed_creates == 0);
    CHECK(writable_binds == 0);
    CHECK(rw_made_ro == 0);
}
