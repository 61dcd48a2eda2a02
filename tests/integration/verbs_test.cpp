// pause, resume, update, events, ps and features through the hutch-oci binary, on real
// containers. The cgroup files are checked as any tool would find them: through the cgroup paths
// the runtime keeps in ROOT/ID/state.json, on cgroup v1, hybrid and v2 hosts alike.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "background.h"
#include "harness.h"

using namespace hutch::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string status_of(const Runtime& rt, const std::string& id) { return rt.state(id).value("status", ""); }

bool one_line(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

// A container's cgroup files, found from its state.json's cgroup_paths: with "hutch:layout" "v2",
// one directory (key ""), with v2's file names; else one directory per v1 controller.
class CgroupFiles {
public:
    CgroupFiles(const Runtime& rt, const std::string& id) {
        auto state = json::parse(read_text(rt.root() + "/" + id + "/state.json"));
        paths_ = state.at("cgroup_paths").get<std::map<std::string, std::string>>();
        auto layout = paths_.find("hutch:layout");
        v2_ = layout != paths_.end() && layout->second == "v2";
    }
    bool v2() const { return v2_; }
    std::string dir(const std::string& v1_controller) const { return paths_.at(v2_ ? "" : v1_controller); }
    // v1_file in the controller's directory, or v2_file in the v2 directory.
    std::string read(const std::string& controller, const std::string& v1_file,
                     const std::string& v2_file) const {
        return read_text(dir(controller) + "/" + (v2_ ? v2_file : v1_file));
    }
    // cgroup.procs, sorted.
    std::vector<pid_t> procs() const {
        std::istringstream in(read_text(dir("pids") + "/cgroup.procs"));
        std::vector<pid_t> pids;
        for (pid_t pid; in >> pid;) pids.push_back(pid);
        std::sort(pids.begin(), pids.end());
        return pids;
    }
    // Every directory named, to check that they are gone.
    std::vector<std::string> dirs() const {
        std::vector<std::string> out;
        for (const auto& [key, value] : paths_)
            if (!key.starts_with("hutch:")) out.push_back(value);
        return out;
    }

private:
    std::map<std::string, std::string> paths_;
    bool v2_ = false;
};

// A directory of the test's, bound read-write at /shared in the bundle's container.
void share(Bundle& bundle, const TempDir& shared) {
    bundle.config["mounts"].push_back({{"destination", "/shared"},
                                       {"type", "bind"},
                                       {"source", shared.path()},
                                       {"options", {"rbind", "rw"}}});
}

// A script's output goes nowhere: a detached container outlives the pipes `run` was given.
std::vector<std::string> quiet_script(const std::string& script) {
    return {"sh", "-c", "exec >/dev/null 2>&1; " + script};
}

// Waits for /shared/go, then allocates 64 MiB as the OOM killer's volunteer victim and writes its
// exit status to /shared/status; again and again.
const char* kHogOnRequest =
    "while :; do if [ -e /shared/go ]; then rm /shared/go; "
    "(echo 1000 > /proc/self/oom_score_adj; head -c 64m /dev/zero | tail > /dev/null); "
    "echo $? > /shared/status.new; mv /shared/status.new /shared/status; fi; usleep 20000; done";

// Asks the container running kHogOnRequest for a hog; its exit status, "" if none came in time.
std::string run_hog(const TempDir& shared) {
    std::string status = shared.path() + "/status";
    std::filesystem::remove(status);
    write_text(shared.path() + "/go", "");
    eventually([&] { return std::filesystem::exists(status); });
    return read_text(status);
}

void set_memory(Bundle& bundle, int64_t bytes) {
    // memory+swap = memory: no swap to escape into, so a hog over the limit is OOM-killed.
    bundle.config["linux"]["resources"]["memory"] = {{"limit", bytes}, {"swap", bytes}};
}

// Starts the bundle detached and returns its id.
std::string run_detached(const Runtime& rt, const Bundle& bundle) {
    std::string id = unique_id("hutch-verbs");
    auto r = rt({"run", "--detach", "--bundle", bundle.path(), id});
    INFO(r.err);
    REQUIRE(r.status == 0);
    return id;
}

void kill_and_wait_stopped(const Runtime& rt, const std::string& id) {
    REQUIRE(rt({"kill", id, "KILL"}).status == 0);
    REQUIRE(wait_for_status(rt, id, "stopped") == "stopped");
}

// The counter a loop in the container writes to /shared/NAME, 0 before the first write. Renamed
// into place by the loop, so never read half-written.
long counter(const TempDir& shared, const std::string& name) {
    std::string text = read_text(shared.path() + "/" + name);
    return text.empty() ? 0 : std::stol(text);
}

}  // namespace

TEST_CASE("verbs: pause freezes every process of the container, resume thaws them", "[verbs][cgroups]") {
    TempDir shared;
    Bundle bundle;
    share(bundle, shared);
    // Two processes count, each in its own file: the shell, and a subshell it forked.
    const std::string count =
        "i=0; while :; do i=$((i+1)); echo $i > /shared/NAME.new; mv /shared/NAME.new /shared/NAME; done";
    auto counting = [&](const std::string& name) {
        std::string out = count;
        for (size_t at; (at = out.find("NAME")) != std::string::npos;) out.replace(at, 4, name);
        return out;
    };
    bundle.set_args(quiet_script("(" + counting("child") + ") & " + counting("parent")));
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    REQUIRE(eventually([&] { return counter(shared, "parent") > 0 && counter(shared, "child") > 0; }));

    auto paused = rt({"pause", id});
    INFO(paused.err);
    REQUIRE(paused.status == 0);
    CHECK(status_of(rt, id) == "paused");
    auto list = json::parse(rt({"list", "--format", "json"}).out);
    REQUIRE(list.size() == 1);
    CHECK(list[0]["status"] == "paused");
    CHECK(list[0]["pid"] == rt.state(id)["pid"]);
    CHECK_THAT(rt({"list"}).out, Catch::Contains("paused"));
    long parent = counter(shared, "parent"), child = counter(shared, "child");
    std::this_thread::sleep_for(300ms);
    CHECK(counter(shared, "parent") == parent);
    CHECK(counter(shared, "child") == child);
    auto again = rt({"pause", id});
    CHECK(again.status != 0);
    CHECK_THAT(again.err, Catch::Contains("not running"));

    REQUIRE(rt({"resume", id}).status == 0);
    CHECK(status_of(rt, id) == "running");
    CHECK(eventually([&] { return counter(shared, "parent") > parent && counter(shared, "child") > child; }));
    auto not_paused = rt({"resume", id});
    CHECK(not_paused.status != 0);
    CHECK(one_line(not_paused.err));
    CHECK_THAT(not_paused.err, Catch::Contains("container " + id + ": container not paused"));

    kill_and_wait_stopped(rt, id);
    auto stopped = rt({"pause", id});
    CHECK(stopped.status != 0);
    CHECK_THAT(stopped.err, Catch::Contains("container " + id + ": container not running"));
    CHECK(rt({"resume", id}).status != 0);
}

TEST_CASE("verbs: a paused container can be killed, and deleted with --force", "[verbs][cgroups]") {
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    pid_t pid = rt.state(id)["pid"].get<pid_t>();
    CgroupFiles cgroup(rt, id);
    REQUIRE(rt({"pause", id}).status == 0);
    REQUIRE(status_of(rt, id) == "paused");

    SECTION("kill") {
        // cgroup v1's freezer holds even SIGKILL until the cgroup is thawed: kill must thaw it.
        REQUIRE(rt({"kill", id, "KILL"}).status == 0);
        CHECK(wait_for_status(rt, id, "stopped") == "stopped");
        CHECK(rt({"delete", id}).status == 0);
    }
    SECTION("delete --force") {
        auto refused = rt({"delete", id});
        CHECK(refused.status != 0);
        CHECK_THAT(refused.err, Catch::Contains("paused"));
        auto start = Clock::now();
        auto deleted = rt({"delete", "--force", id});
        INFO(deleted.err);
        CHECK(deleted.status == 0);
        // Nothing waited on a frozen process: that wait would end only at kill's 10 s timeout.
        CHECK(Clock::now() - start < 8s);
    }
    CHECK(rt({"state", id}).status != 0);
    CHECK(eventually([&] { return !process_alive(pid); }));
    for (const auto& dir : cgroup.dirs()) {
        INFO(dir);
        CHECK_FALSE(std::filesystem::exists(dir));
    }
}

TEST_CASE("verbs: update lowers a live memory limit, and the container feels it", "[verbs][cgroups]") {
    TempDir shared;
    Bundle bundle;
    share(bundle, shared);
    set_memory(bundle, 256 << 20);
    bundle.set_args(quiet_script(kHogOnRequest));
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    CgroupFiles cgroup(rt, id);
    CHECK(cgroup.read("memory", "memory.limit_in_bytes", "memory.max") == std::to_string(256 << 20));
    CHECK(run_hog(shared) == "0");  // 64 MiB fits in 256

    auto updated = rt({"update", "--memory", "32m", "--memory-swap", "32m", id});
    INFO(updated.err);
    REQUIRE(updated.status == 0);
    CHECK(cgroup.read("memory", "memory.limit_in_bytes", "memory.max") == std::to_string(32 << 20));
    CHECK(run_hog(shared) == "137");  // now it does not: SIGKILL from the OOM killer
    CHECK(status_of(rt, id) == "running");
}

TEST_CASE("verbs: update writes pids and cpu limits, from flags, a file or stdin", "[verbs][cgroups]") {
    TempDir shared;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    CgroupFiles cgroup(rt, id);

    auto flags = rt({"update", "--pids-limit", "42", "--cpu-quota", "50000", "--cpu-period", "100000", id});
    INFO(flags.err);
    REQUIRE(flags.status == 0);
    CHECK(cgroup.read("pids", "pids.max", "pids.max") == "42");
    if (cgroup.v2()) {
        CHECK(cgroup.read("cpu", "", "cpu.max") == "50000 100000");
    } else {
        CHECK(cgroup.read("cpu", "cpu.cfs_quota_us", "") == "50000");
        CHECK(cgroup.read("cpu", "cpu.cfs_period_us", "") == "100000");
    }
    // A new period alone keeps the quota, as runc's update does (v2's cpu.max holds both).
    auto period = rt({"update", "--cpu-period", "50000", id});
    INFO(period.err);
    REQUIRE(period.status == 0);
    if (cgroup.v2()) {
        CHECK(cgroup.read("cpu", "", "cpu.max") == "50000 50000");
    } else {
        CHECK(cgroup.read("cpu", "cpu.cfs_quota_us", "") == "50000");
        CHECK(cgroup.read("cpu", "cpu.cfs_period_us", "") == "50000");
    }

    auto from_stdin = rt({"update", "--resources", "-", id}, R"({"pids": {"limit": 77}})");
    INFO(from_stdin.err);
    CHECK(from_stdin.status == 0);
    CHECK(cgroup.read("pids", "pids.max", "pids.max") == "77");

    write_text(shared.path() + "/resources.json", R"({"pids": {"limit": 55}})");
    CHECK(rt({"update", "-r", shared.path() + "/resources.json", id}).status == 0);
    CHECK(cgroup.read("pids", "pids.max", "pids.max") == "55");
    CHECK(rt({"update", "--pids-limit", "-1", id}).status == 0);
    CHECK(cgroup.read("pids", "pids.max", "pids.max") == "max");

    SECTION("a bad value is a one-line error naming the flag or field, and changes nothing") {
        auto bad_flag = rt({"update", "--memory", "lots", id});
        CHECK(bad_flag.status != 0);
        CHECK(one_line(bad_flag.err));
        CHECK_THAT(bad_flag.err, Catch::StartsWith("--memory: invalid size \"lots\""));
        auto bad_field = rt({"update", "--resources", "-", id}, R"({"pids": {"limit": "many"}})");
        CHECK(bad_field.status != 0);
        CHECK(bad_field.err == "--resources: pids.limit: expected integer\n");
        auto kernel = rt({"update", "--kernel-memory", "10m", id});
        CHECK(kernel.status != 0);
        CHECK_THAT(kernel.err, Catch::Contains("not supported"));
        CHECK(cgroup.read("pids", "pids.max", "pids.max") == "max");
    }
    SECTION("a stopped container cannot be updated") {
        kill_and_wait_stopped(rt, id);
        auto stopped = rt({"update", "--pids-limit", "10", id});
        CHECK(stopped.status != 0);
        CHECK_THAT(stopped.err, Catch::Contains("container " + id + ": container not running"));
    }
}

TEST_CASE("verbs: events --stats prints one stats event", "[verbs][cgroups]") {
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    auto r = rt({"events", "--stats", id});
    INFO(r.err);
    REQUIRE(r.status == 0);
    REQUIRE(one_line(r.out));
    auto event = json::parse(r.out);
    CHECK(event["type"] == "stats");
    CHECK(event["id"] == id);
    const auto& data = event["data"];
    CHECK(data["memory"]["usage"]["usage"].get<uint64_t>() > 0);
    CHECK(data["pids"]["current"].get<uint64_t>() >= 1);
    CHECK(data["cpu"]["usage"].contains("kernel"));

    kill_and_wait_stopped(rt, id);
    auto stopped = rt({"events", "--stats", id});
    CHECK(stopped.status != 0);
    CHECK_THAT(stopped.err, Catch::Contains("not running"));
}

TEST_CASE("verbs: events streams stats, reports an OOM kill, and ends with the container",
          "[verbs][cgroups]") {
    TempDir shared;
    Bundle bundle;
    share(bundle, shared);
    set_memory(bundle, 32 << 20);
    bundle.set_args(quiet_script(kHogOnRequest));
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    CHECK(rt({"events", "--interval", "soon", id}).status != 0);

    Background events({"--root", rt.root(), "events", "--interval", "1s", id});
    // The first stats event says events has read the OOM count that the hog must raise.
    auto stats = events.next_event("stats", kPatience);
    REQUIRE(stats.is_object());
    CHECK(stats["id"] == id);
    CHECK(run_hog(shared) == "137");
    auto oom = events.next_event("oom", kPatience);
    REQUIRE(oom.is_object());
    CHECK(oom == json{{"type", "oom"}, {"id", id}});

    REQUIRE(rt({"kill", id, "KILL"}).status == 0);
    CHECK(events.wait(kPatience) == 0);
}

TEST_CASE("verbs: ps lists exactly the container's processes", "[verbs][cgroups]") {
    Bundle bundle;
    bundle.set_args(quiet_script("sleep 1000 & sleep 1001 & wait"));
    bundle.save();
    Runtime rt;
    std::string id = run_detached(rt, bundle);
    CgroupFiles cgroup(rt, id);
    REQUIRE(eventually([&] { return cgroup.procs().size() == 3; }));
    pid_t init = rt.state(id)["pid"].get<pid_t>();

    auto as_json = rt({"ps", "--format", "json", id});
    INFO(as_json.err);
    REQUIRE(as_json.status == 0);
    auto pids = json::parse(as_json.out).get<std::vector<pid_t>>();
    std::sort(pids.begin(), pids.end());
    CHECK(pids == cgroup.procs());
    CHECK(std::find(pids.begin(), pids.end(), init) != pids.end());

    auto table = rt({"ps", id});
    INFO(table.err);
    REQUIRE(table.status == 0);
    CHECK_THAT(table.out.substr(0, table.out.find('\n')), Catch::Contains("PID"));  // procps or busybox ps
    CHECK_THAT(table.out, Catch::Contains("sleep 1001"));
    CHECK(std::count(table.out.begin(), table.out.end(), '\n') == 4);  // the header and three

    auto custom = rt({"ps", id, "--", "-o", "pid,comm"});
    INFO(custom.err);
    REQUIRE(custom.status == 0);
    std::string header = custom.out.substr(0, custom.out.find('\n'));
    CHECK(header.substr(header.find_first_not_of(' ')) == "PID COMMAND");
    CHECK(std::count(custom.out.begin(), custom.out.end(), '\n') == 4);

    REQUIRE(rt({"pause", id}).status == 0);  // runc lists a paused container's processes too
    CHECK(rt({"ps", "--format", "json", id}).status == 0);
    kill_and_wait_stopped(rt, id);
    CHECK(rt({"ps", id}).status != 0);
}

TEST_CASE("verbs: features prints the runtime-spec features document", "[verbs]") {
    Runtime rt;
    auto r = rt({"features"});
    REQUIRE(r.status == 0);
    auto doc = json::parse(r.out, nullptr, false);
    REQUIRE(doc.is_object());
    CHECK_FALSE(doc["ociVersionMax"].get<std::string>().empty());
    CHECK(doc["linux"]["cgroup"]["v2"] == true);
    CHECK(doc["linux"]["seccomp"]["enabled"] == true);
    CHECK(doc["linux"]["netDevices"]["enabled"] == true);
}
