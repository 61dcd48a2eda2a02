// hutch-oci killed (SIGKILL) at every step of create, start, exec and delete: afterwards `state`
// and `list` still answer (no crash on what was left), `delete --force` brings the host back to
// clean (no state directory, cgroup, mount or process of the container), and the id can be used
// again. The steps are the lines of hutch-oci's debug log: the test runs the verb once to count
// them, then once per line, killing hutch-oci as soon as that line is written.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "harness.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// The sleep's argument marks the container's processes in the host's process list.
constexpr const char* kMarker = "86400.5";

size_t lines_in(const std::string& path) {
    std::ifstream in(path);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

// Runs argv and SIGKILLs it once `log` has `kill_after` lines (never, when 0). Returns how many
// lines the log had when it exited or was killed.
size_t run_killed(const std::vector<std::string>& argv, const std::string& log, size_t kill_after) {
    fs::remove(log);
    pid_t pid = ::fork();
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if ((kill_after > 0 && lines_in(log) >= kill_after) || std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return lines_in(log);
}

// Host processes whose command line holds `needle`.
std::vector<pid_t> processes_with(const std::string& needle) {
    std::vector<pid_t> out;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(needle) != std::string::npos && std::stoi(name) != ::getpid())
            out.push_back(std::stoi(name));
    }
    return out;
}

// Cgroup directories named `name` anywhere under /sys/fs/cgroup (one per v1 hierarchy).
std::vector<std::string> cgroups_named(const std::string& name) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup",
                                                    fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it.depth() > 3) it.disable_recursion_pending();
        if (it->is_directory(ec) && it->path().filename() == name) out.push_back(it->path());
    }
    return out;
}

struct Scene {
    Bundle bundle;
    Runtime rt;
    TempDir logs{"hutch-test-crash"};
    std::string id = unique_id("crash");
    std::string cgroup = "hutch-crash-" + id;

    // shares_mounts: no mount namespace of its own, so its mounts are made in the host's.
    explicit Scene(bool shares_mounts) {
        bundle.set_args({"sleep", kMarker});
        bundle.config["linux"]["cgroupsPath"] = "/" + cgroup;
        if (shares_mounts) {
            auto& namespaces = bundle.config["linux"]["namespaces"];
            namespaces.erase(std::remove_if(namespaces.begin(), namespaces.end(),
                                            [](const auto& ns) { return ns["type"] == "mount"; }),
                             namespaces.end());
        }
        bundle.save();
    }
    std::vector<std::string> oci(std::vector<std::string> args) const {
        std::vector<std::string> argv = {HUTCH_OCI_BINARY, "--root", rt.root(), "--debug", "--log", log()};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }
    std::string log() const { return logs.path() + "/log"; }
    std::vector<std::string> create() const { return oci({"create", "--bundle", bundle.path(), id}); }

    // What every kill must leave: commands that still answer, and after delete --force, nothing.
    void check_recovers(const std::string& step) const {
        INFO(step);
        auto state = rt({"state", id});
        CHECK(state.status < 128);  // an answer, or a one-line error: not a crash
        CHECK(state.err.find('\n') == state.err.rfind('\n'));
        CHECK(rt({"list"}).status == 0);
        auto deleted = rt({"delete", "--force", id});
        INFO(deleted.err);
        CHECK(deleted.status == 0);
        CHECK_FALSE(path_exists(rt.root() + "/" + id));
        CHECK(cgroups_named(cgroup).empty());
        CHECK(host_mounts_matching(bundle.path()).empty());
        // The container's processes die with its pid namespace's init; a child killed before it
        // exec'd goes when its parent's end of the sync channel closes. Either takes a moment.
        for (int i = 0; i < 100 && !processes_with(id).empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(processes_with(kMarker).empty());
        CHECK(processes_with(id).empty());
        // The id is free again.
        CHECK(rt({"create", "--bundle", bundle.path(), id}).status == 0);
        CHECK(rt({"delete", "--force", id}).status == 0);
    }
};

// For each step of `verb` (run after `before`, which sets the container up for it).
void kill_at_every_step(const std::string& verb, const std::function<void(const Scene&)>& before,
                        const std::function<std::vector<std::string>(const Scene&)>& command,
                        bool shares_mounts = false) {
    size_t steps = 0;
    {
        Scene scene(shares_mounts);
        before(scene);
        steps = run_killed(command(scene), scene.log(), 0);
        REQUIRE(steps > 0);
        scene.check_recovers(verb + " not killed");
    }
    for (size_t n = 1; n <= steps; ++n) {
        Scene scene(shares_mounts);
        before(scene);
        run_killed(command(scene), scene.log(), n);
        scene.check_recovers(verb + " killed after debug line " + std::to_string(n) + " of " +
                             std::to_string(steps));
    }
}

void nothing(const Scene&) {}
void created(const Scene& s) { REQUIRE(s.rt({"create", "--bundle", s.bundle.path(), s.id}).status == 0); }
void running(const Scene& s) {
    created(s);
    REQUIRE(s.rt({"start", s.id}).status == 0);
}

}  // namespace

TEST_CASE("hutch-oci killed at every step of create leaves what delete --force cleans", "[crash]") {
    kill_at_every_step("create", nothing, [](const Scene& s) { return s.create(); });
}

TEST_CASE("hutch-oci killed at every step of start leaves what delete --force cleans", "[crash]") {
    kill_at_every_step("start", created, [](const Scene& s) { return s.oci({"start", s.id}); });
}

TEST_CASE("hutch-oci killed at every step of exec leaves what delete --force cleans", "[crash]") {
    kill_at_every_step("exec", running, [](const Scene& s) {
        return s.oci({"exec", s.id, "sleep", kMarker});
    });
}

TEST_CASE("hutch-oci killed at every step of delete leaves what delete --force cleans", "[crash]") {
    kill_at_every_step("delete", running, [](const Scene& s) { return s.oci({"delete", "--force", s.id}); });
}

TEST_CASE("hutch-oci killed at every step of create, without a mount namespace of its own, leaves no mount",
          "[crash]") {
    kill_at_every_step(
        "create", nothing, [](const Scene& s) { return s.create(); }, true);
}

TEST_CASE("hutch-oci killed at every step of delete, without a mount namespace of its own, leaves no mount",
          "[crash]") {
    kill_at_every_step(
        "delete", running,
        [](const Scene& s) {
            return s.oci({"delete", "--force", s.id});
        },
        true);
}
