// The systemd cgroup driver against a real systemd: on a pure cgroup v2 host with systemd as PID 1
// (the VM test bed: tests/vm/run-in-guest.sh --systemd -- hutch-integration-tests '[systemd]'),
// a container's scope is started, delegated and limited, changed and stopped, as systemctl and
// busctl see it and as the cgroup files say. Elsewhere these tests say why they are skipped; the
// first ones run anywhere: they check the errors hutch-oci gives where systemd cannot be asked.
#include "cgroups/systemd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cgroups/manager.h"
#include "harness.h"

using namespace hutch;
using namespace hutch::test;

namespace {

constexpr int64_t kMiB = 1024 * 1024;

std::string helper_path() {
    std::string oci = HUTCH_OCI_BINARY;
    return oci.substr(0, oci.find_last_of('/') + 1) + "hutch-systemd";
}

// The manager-level tests run hutch-systemd from the build directory (it lies beside hutch-oci,
// not beside this test binary); hutch-oci, which these tests run too, finds it there itself.
void use_built_helper() { ::setenv("HUTCH_SYSTEMD_HELPER", helper_path().c_str(), 1); }

// Why this host cannot run the systemd tests, or "" when it can.
std::string why_not_systemd_host() {
    if (read_text("/proc/1/comm") != "systemd")
        return "PID 1 is " + read_text("/proc/1/comm") + ", not systemd";
    if (cgroups::detect_layout() != cgroups::Layout::v2) return "the host is not pure cgroup v2";
    if (::geteuid() != 0) return "not root";
    return "";
}

bool systemd_reachable() {
    return path_exists("/run/dbus/system_bus_socket") || path_exists("/run/systemd/private");
}

std::string new_id() { return unique_id("hutch-test-sd"); }

// Kills the test process after seconds (SIGALRM), so that a hung systemd fails the run rather
// than stalling it; the processes a test starts die with it (PR_SET_PDEATHSIG), and systemd then
// removes their emptied scopes.
class Watchdog {
public:
    explicit Watchdog(unsigned seconds) { ::alarm(seconds); }
    ~Watchdog() { ::alarm(0); }
};

// systemctl show -p NAMES UNIT, as a map.
std::map<std::string, std::string> show(const std::string& unit, const std::string& names) {
    auto r = run_command({"timeout", "30", "systemctl", "show", "-p", names, unit});
    std::map<std::string, std::string> out;
    std::stringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        size_t eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

// A scope property over D-Bus itself, as busctl prints it ("t 67108864").
std::string bus_property(const std::string& unit, const std::string& interface, const std::string& name) {
    auto r =
        run_command({"timeout", "30", "busctl", "call", "org.freedesktop.systemd1",
                     "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit});
    size_t open = r.out.find('"'), close = r.out.rfind('"');
    if (r.status != 0 || open == std::string::npos || close <= open) return "GetUnit failed: " + r.err;
    std::string object = r.out.substr(open + 1, close - open - 1);
    auto p = run_command({"timeout", "30", "busctl", "get-property", "org.freedesktop.systemd1", object,
                          "org.freedesktop.systemd1." + interface, name});
    std::string out = p.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

bool unit_listed(const std::string& unit) {
    auto r =
        run_command({"timeout", "30", "systemctl", "list-units", "--all", "--no-legend", "--plain", unit});
    return r.out.find(unit) != std::string::npos;
}

// Stops unit when the test leaves its scope, passed or failed, so that none is left behind.
class UnitGuard {
public:
    explicit UnitGuard(std::string unit) : unit_(std::move(unit)) {}
    ~UnitGuard() {
        run_command({"timeout", "30", "systemctl", "stop", unit_});
        run_command({"timeout", "30", "systemctl", "reset-failed", unit_});
    }

private:
    std::string unit_;
};

// A child that waits to be asked, from inside whatever cgroup it is put in: 'd' answers whether
// the device policy holds there (/dev/null opens, a node for /dev/mem does not), end of input
// ends it. Killed with the test process, and when this goes out of scope.
class Child {
public:
    Child() {
        int ask[2], answer[2];
        REQUIRE(::pipe2(ask, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(answer, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            serve(ask[0], answer[1]);
        }
        ::close(ask[0]);
        ::close(answer[1]);
        ask_ = ask[1];
        answer_ = answer[0];
    }
    ~Child() {
        ::close(ask_);
        ::close(answer_);
        kill_and_wait();
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    // The device check's result: 0 when both hold, else which failed.
    int devices() {
        char c = 'd', result = 127;
        if (::write(ask_, &c, 1) != 1 || ::read(answer_, &result, 1) != 1) return 126;
        return result;
    }
    // The wait status, once it is gone; -1 while it runs.
    int reap(bool block) {
        if (status_ < 0 && ::waitpid(pid_, &status_, block ? 0 : WNOHANG) != pid_) status_ = -1;
        return status_;
    }
    void kill_and_wait() {
        if (reap(false) >= 0) return;
        ::kill(pid_, SIGKILL);
        reap(true);
    }

private:
    [[noreturn]] static void serve(int ask, int answer) {
        // In /dev: the guest's /tmp is nodev, which would refuse the open before the cgroup does.
        std::string node = "/dev/hutch-test-mem-" + std::to_string(::getpid());
        ::mknod(node.c_str(), S_IFCHR | 0600, ::makedev(1, 1));
        for (char c; ::read(ask, &c, 1) == 1;) {
            char result = 0;
            int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            int mem_fd = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
            if (null_fd < 0) result = 1;
            if (mem_fd >= 0 || errno != EPERM) result = static_cast<char>(result | 2);
            if (null_fd >= 0) ::close(null_fd);
            if (mem_fd >= 0) ::close(mem_fd);
            if (::write(answer, &result, 1) != 1) break;
        }
        ::unlink(node.c_str());
        ::_exit(0);
    }

    pid_t pid_ = -1;
    int status_ = -1;
    int ask_ = -1, answer_ = -1;
};

spec::Resources limits() {
    spec::Resources r;
    r.memory = spec::MemoryResources{};
    r.memory->limit = 64 * kMiB;
    r.pids_limit = 50;
    r.cpu = spec::CpuResources{};
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0";
    return r;
}

// Whether the scope unit is gone for systemd: not loaded, not listed.
void check_unit_gone(const std::string& unit) {
    CHECK(show(unit, "LoadState")["LoadState"] == "not-found");
    CHECK_FALSE(unit_listed(unit));
    CHECK(run_command({"timeout", "30", "systemctl", "status", unit}).status != 0);
}

}  // namespace

TEST_CASE("systemd: an unreachable systemd is a one-line error", "[systemd]") {
    if (systemd_reachable()) {
        WARN(
            "skipped: systemd is reachable on this host (/run/dbus/system_bus_socket or "
            "/run/systemd/private)");
        return;
    }
    Watchdog watchdog(60);
    use_built_helper();
    auto manager = cgroups::make_systemd_manager("", new_id(), ::getpid());
    REQUIRE(manager);
    auto created = (*manager)->create(nullptr);
    REQUIRE_FALSE(created);
    INFO(created.error().message);
    CHECK(created.error().message.starts_with("--systemd-cgroup: systemd is not reachable over D-Bus ("));
    CHECK(created.error().message.ends_with("): is systemd PID 1?"));
    CHECK(created.error().message.find('\n') == std::string::npos);
}

TEST_CASE("systemd: a missing helper, and a bad cgroupsPath, are one-line errors", "[systemd]") {
    Watchdog watchdog(60);
    ::setenv("HUTCH_SYSTEMD_HELPER", "/nonexistent/hutch-systemd", 1);
    auto manager = cgroups::make_systemd_manager("", new_id(), ::getpid());
    REQUIRE(manager);
    auto created = (*manager)->create(nullptr);
    use_built_helper();
    REQUIRE_FALSE(created);
    CHECK(created.error().message.starts_with("--systemd-cgroup: run the helper /nonexistent/hutch-systemd"));
    auto bad = cgroups::make_systemd_manager("/not/systemd/form", "id", ::getpid());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.starts_with("linux.cgroupsPath: \"/not/systemd/form\""));
}

TEST_CASE("systemd: the helper refuses what it cannot marshal", "[systemd]") {
    Watchdog watchdog(60);
    std::string request =
        R"({"unit": "x.scope", "properties": [{"name": "X", "type": "a{sv}", "value": {}}]})";
    auto r = run_command({helper_path(), "start"}, request);
    CHECK(r.status != 0);
    // Unreachable or not, one line that says why: the type is checked before or after connecting.
    INFO(r.err);
    CHECK(std::ranges::count(r.err, '\n') == 1);
    if (systemd_reachable())
        CHECK(r.err.find("type \"a{sv}\" is not one hutch-systemd marshals") != std::string::npos);
    r = run_command({helper_path(), "frobnicate"});
    CHECK(r.status == 2);
    CHECK(r.err.find("unknown verb frobnicate") != std::string::npos);
}

TEST_CASE("systemd: a scope is started, delegated, limited, updated and stopped", "[systemd]") {
    if (std::string why = why_not_systemd_host(); !why.empty()) {
        WARN("skipped: " << why << " (run it in tests/vm/run-in-guest.sh --systemd)");
        return;
    }
    Watchdog watchdog(240);
    use_built_helper();
    Child child;
    std::string id = new_id();
    std::string unit = "hutch-" + id + ".scope";
    UnitGuard guard(unit);
    auto made = cgroups::make_systemd_manager("", id, child.pid());
    REQUIRE(made);
    auto& manager = **made;
    spec::Resources resources = limits();
    auto started = std::chrono::steady_clock::now();
    auto created = manager.create(&resources);
    auto took = std::chrono::steady_clock::now() - started;
    INFO((created ? "" : created.error().message));
    REQUIRE(created);
    WARN("scope started and limited in "
         << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");

    auto paths = manager.paths();
    std::string dir = "/sys/fs/cgroup/system.slice/" + unit;
    CHECK(paths == std::map<std::string, std::string>{
                       {"hutch:layout", "v2"}, {"hutch:driver", "systemd"}, {"hutch:unit", unit}, {"", dir}});
    CHECK(manager.clone_target() == -1);
    CHECK(manager.mount_binds().size() == 1);

    // What systemd says.
    auto props = show(
        unit, "ActiveState,MemoryMax,TasksMax,Delegate,CPUQuotaPerSecUSec,AllowedCPUs,DevicePolicy,Slice");
    CHECK(props["ActiveState"] == "active");
    CHECK(props["MemoryMax"] == std::to_string(64 * kMiB));
    CHECK(props["TasksMax"] == "50");
    CHECK(props["Delegate"] == "yes");
    CHECK(props["CPUQuotaPerSecUSec"] == "500ms");
    CHECK(props["AllowedCPUs"] == "0");
    CHECK(props["DevicePolicy"] == "strict");
    CHECK(props["Slice"] == "system.slice");
    CHECK(bus_property(unit, "Scope", "MemoryMax") == "t " + std::to_string(64 * kMiB));
    CHECK(bus_property(unit, "Scope", "Delegate") == "b true");

    // What the cgroup files say, and that the child is in it, under both device programs.
    CHECK(read_text(dir + "/memory.max") == std::to_string(64 * kMiB));
    CHECK(read_text(dir + "/pids.max") == "50");
    CHECK(read_text(dir + "/cpu.max") == "50000 100000");
    CHECK(read_text(dir + "/cpuset.cpus") == "0");
    CHECK(read_text("/proc/" + std::to_string(child.pid()) + "/cgroup") == "0::/system.slice/" + unit);
    CHECK(manager.pids().value() == std::vector<pid_t>{child.pid()});
    CHECK(child.devices() == 0);

    // Later commands reopen it from the state's paths.
    auto reopened = cgroups::reopen_systemd_manager(paths);
    CHECK(cgroups::is_systemd_paths(paths));
    CHECK(reopened->mount_binds().empty());
    spec::Resources more;
    more.memory = spec::MemoryResources{};
    more.memory->limit = 128 * kMiB;
    more.pids_limit = 70;
    more.cpu = spec::CpuResources{};
    more.cpu->burst = 1000;  // no systemd property: cgroupfs only
    auto updated = reopened->update(more);
    INFO((updated ? "" : updated.error().message));
    CHECK(updated);
    props = show(unit, "MemoryMax,TasksMax");
    CHECK(props["MemoryMax"] == std::to_string(128 * kMiB));
    CHECK(props["TasksMax"] == "70");
    CHECK(read_text(dir + "/memory.max") == std::to_string(128 * kMiB));
    CHECK(read_text(dir + "/cpu.max.burst") == "1000");
    // A new period alone keeps the quota, in systemd's property and in cpu.max.
    spec::Resources period;
    period.cpu = spec::CpuResources{};
    period.cpu->period = 50000;
    auto period_updated = reopened->update(period);
    INFO((period_updated ? "" : period_updated.error().message));
    CHECK(period_updated);
    CHECK(read_text(dir + "/cpu.max") == "50000 50000");
    CHECK(show(unit, "CPUQuotaPerSecUSec")["CPUQuotaPerSecUSec"] == "1s");  // 50 ms per 50 ms

    REQUIRE(reopened->freeze());
    CHECK(reopened->is_frozen().value_or(false));
    REQUIRE(reopened->thaw());
    CHECK_FALSE(reopened->is_frozen().value_or(true));

    // Stopped: the process killed, the unit and its cgroup gone; again is no error.
    started = std::chrono::steady_clock::now();
    auto destroyed = reopened->destroy();
    took = std::chrono::steady_clock::now() - started;
    INFO((destroyed ? "" : destroyed.error().message));
    CHECK(destroyed);
    WARN("scope stopped in " << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");
    int status = child.reap(true);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    check_unit_gone(unit);
    CHECK_FALSE(path_exists(dir));
    CHECK(manager.destroy());
}

TEST_CASE("systemd: a scope that exists is a clear error; a bad start leaves nothing", "[systemd]") {
    if (std::string why = why_not_systemd_host(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    Watchdog watchdog(240);
    use_built_helper();
    Child first, second;
    std::string id = new_id();
    std::string unit = "hutch-" + id + ".scope";
    UnitGuard guard(unit);
    auto one = cgroups::make_systemd_manager("system.slice:hutch:" + id, id, first.pid());
    REQUIRE(one);
    REQUIRE((*one)->create(nullptr));
    auto two = cgroups::make_systemd_manager("", id, second.pid());
    REQUIRE(two);
    auto again = (*two)->create(nullptr);
    REQUIRE_FALSE(again);
    CHECK(again.error().message == "systemd: " + unit +
                                       " already exists (a container left behind? delete it with --force, or "
                                       "`systemctl stop " +
                                       unit + "`)");
    CHECK(show(unit, "ActiveState")["ActiveState"] == "active");  // the first one is untouched
    CHECK((*one)->destroy());
    check_unit_gone(unit);

    // A process that is gone: systemd refuses the start; no unit is left.
    Child gone;
    gone.kill_and_wait();
    auto dead = cgroups::make_systemd_manager("", id, gone.pid());
    REQUIRE(dead);
    auto refused = (*dead)->create(nullptr);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.starts_with("systemd: start " + unit + ": "));
    CHECK(refused.error().message.find('\n') == std::string::npos);
    check_unit_gone(unit);
}

TEST_CASE("systemd: a scope in a nested slice, limits systemd has no property for", "[systemd]") {
    if (std::string why = why_not_systemd_host(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    Watchdog watchdog(240);
    use_built_helper();
    Child child;
    std::string id = new_id();
    std::string unit = "test-" + id + ".scope";
    UnitGuard guard(unit);
    UnitGuard slice_guard("hutchtest.slice");  // and the slice below it, which systemd made
    auto made = cgroups::make_systemd_manager("hutchtest-nested.slice:test:" + id, id, child.pid());
    REQUIRE(made);
    spec::Resources r;
    r.cpu = spec::CpuResources{};
    r.cpu->idle = 1;  // no systemd property
    r.unified["memory.high"] = std::to_string(32 * kMiB);
    r.devices = {spec::DeviceRule{.allow = false, .type = "c", .major = 1, .minor = 3, .access = "rwm"}};
    auto created = (*made)->create(&r);
    INFO((created ? "" : created.error().message));
    REQUIRE(created);
    std::string dir = "/sys/fs/cgroup/hutchtest.slice/hutchtest-nested.slice/" + unit;
    CHECK((*made)->paths().at("") == dir);
    CHECK(read_text(dir + "/cpu.idle") == "1");
    CHECK(read_text(dir + "/memory.high") == std::to_string(32 * kMiB));
    CHECK(show(unit, "MemoryHigh")["MemoryHigh"] == std::to_string(32 * kMiB));
    // /dev/null taken away: by the device program and by systemd's list alike.
    CHECK(child.devices() == 1);
    CHECK(show(unit, "DeviceAllow")["DeviceAllow"].find("/dev/char/1:3") == std::string::npos);
    CHECK((*made)->destroy());
    check_unit_gone(unit);
    CHECK_FALSE(path_exists(dir));
}

TEST_CASE("systemd: hutch-oci --systemd-cgroup runs a container in a scope", "[systemd]") {
    if (std::string why = why_not_systemd_host(); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    Watchdog watchdog(300);
    Runtime runtime({"--systemd-cgroup"});
    Bundle bundle;
    bundle.set_args(
        {"sh", "-c",
         "{ cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cat /proc/self/cgroup; } >/inside.tmp; "
         "mv /inside.tmp /inside; exec sleep 600"});
    bundle.config["root"]["readonly"] = false;
    bundle.config["linux"]["resources"]["memory"] = {{"limit", 64 * kMiB}};
    bundle.config["linux"]["resources"]["pids"] = {{"limit", 50}};
    bundle.config["linux"]["resources"]["cpu"] = {{"quota", 50000}, {"period", 100000}, {"cpus", "0"}};
    bundle.save();
    std::string id = new_id();
    std::string unit = "hutch-" + id + ".scope";
    UnitGuard guard(unit);
    auto started = std::chrono::steady_clock::now();
    auto r = runtime({"create", "--bundle", bundle.path(), id});
    auto took = std::chrono::steady_clock::now() - started;
    INFO(r.err);
    REQUIRE(r.status == 0);
    WARN("hutch-oci --systemd-cgroup create took "
         << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");
    REQUIRE(runtime({"start", id}).status == 0);

    auto props = show(unit, "ActiveState,MemoryMax,TasksMax,Delegate");
    CHECK(props["ActiveState"] == "active");
    CHECK(props["MemoryMax"] == std::to_string(64 * kMiB));
    CHECK(props["TasksMax"] == "50");
    CHECK(props["Delegate"] == "yes");
    std::string dir = "/sys/fs/cgroup/system.slice/" + unit;
    CHECK(read_text(dir + "/memory.max") == std::to_string(64 * kMiB));
    CHECK(read_text(dir + "/cpu.max") == "50000 100000");

    std::string inside = bundle.rootfs() + "/inside";
    for (int i = 0; i < 200 && !path_exists(inside); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(read_text(inside) == std::to_string(64 * kMiB) + "\n50\n0::/");

    if (runtime({"update", "--help"}).status == 0) {
        auto u = runtime({"update", "--memory", std::to_string(96 * kMiB), id});
        INFO(u.err);
        CHECK(u.status == 0);
        CHECK(show(unit, "MemoryMax")["MemoryMax"] == std::to_string(96 * kMiB));
        CHECK(read_text(dir + "/memory.max") == std::to_string(96 * kMiB));
    } else {
        WARN("skipped the update part: hutch-oci has no update verb");
    }

    auto d = runtime({"delete", "--force", id});
    INFO(d.err);
    CHECK(d.status == 0);
    check_unit_gone(unit);
    CHECK_FALSE(path_exists(dir));
}
