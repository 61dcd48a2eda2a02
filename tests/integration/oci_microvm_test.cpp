// hutch-oci running a bundle in a microVM: config.json's annotation run.oci.handler=microvm
// (runtime/backend.h), its pid hutch-vm-relay, QEMU and hutch-agent behind it. Each VM test boots
// a VM (seconds under TCG), so the tag is hidden ([.microvm-qemu]: tests/CMakeLists.txt lists
// them after the guest kernel is built). No QEMU, relay or state directory outlives one.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "background.h"
#include "harness.h"
#include "microvm_support.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// QEMU dies by its parent-death signal once the relay is killed: a moment after, not at once.
bool none_left(const std::string& needle) {
    for (int i = 0; i < 100; ++i) {
        if (processes_mentioning(needle).empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// A busybox bundle for the microVM, and a runtime whose root the cleanup looks for: whatever the
// test did, no relay or QEMU of it is left (the Runtime's destructor deletes its containers too).
struct VmBundle {
    Runtime rt;
    Bundle bundle;
    explicit VmBundle(const std::vector<std::string>& args) {
        bundle.set_args(args);
        bundle.config["annotations"] = {{"run.oci.handler", "microvm"},
                                        {"run.oci.microvm.kernel", guest_kernel()}};
        bundle.save();
    }
    ~VmBundle() {
        for (pid_t pid : processes_mentioning(rt.root())) ::kill(pid, SIGKILL);
    }
};

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

// create of the saved bundle as id fails in one line that holds `says`, and leaves no state.
void check_create_refused(VmBundle& vm, const std::string& id, const std::string& says) {
    vm.bundle.save();
    auto refused = vm.rt({"create", "--bundle", vm.bundle.path(), id});
    INFO(refused.err);
    CHECK(refused.status != 0);
    CHECK(refused.err.find(says) != std::string::npos);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    CHECK(!exists(vm.rt.root() + "/" + id));
}

// Resizes the console to 30x90, then types a line until the guest's process, which answers each
// line with `stty size`, says so: the size and the line cross the VM on different ports, in no
// set order.
bool resize_reaches_guest(int master) {
    winsize resized{.ws_row = 30, .ws_col = 90, .ws_xpixel = 0, .ws_ypixel = 0};
    if (::ioctl(master, TIOCSWINSZ, &resized) != 0) return false;
    std::string answers;
    for (int i = 0; i < 60 && answers.find("30 90") == std::string::npos; ++i) {
        if (::write(master, "x\n", 2) != 2) return false;
        answers += read_fd_until(master, "30 90", std::chrono::seconds(1));
    }
    return answers.find("30 90") != std::string::npos;
}

}  // namespace

TEST_CASE("hutch-oci run with run.oci.handler=microvm prints the process's output and returns its status",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sh", "-c", "echo hello from the guest; echo $$ $(cut -d: -f3 /proc/self/cgroup); exit 7"});
    // With only a uts namespace in config.json (for its hostname) the process has the guest's
    // others: it is not PID 1 (the agent is), and its cgroup is the agent's /container.
    vm.bundle.config["linux"]["namespaces"] = nlohmann::json::array({{{"type", "uts"}}});
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm1"});
    INFO(result.err);
    CHECK(result.status == 7);
    CHECK(result.out.starts_with("hello from the guest\n"));
    CHECK(result.out.ends_with(" /container\n"));
    CHECK(!result.out.ends_with("\n1 /container\n"));
    CHECK(!exists(vm.rt.root() + "/vm1"));
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE(
    "hutch-oci's microVM gets config.json's memory, CPU, pids and unified limits, sized and enforced inside",
    "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm(
        {"sh", "-c",
         "cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $cg/memory.max $cg/cpu.max $cg/pids.max "
         "$cg/memory.low $cg/cpu.weight $cg/memory.high; nproc; echo $$ $(cut -d: -f3 /proc/self/cgroup)"});
    vm.bundle.config["linux"]["resources"] = {
        {"memory", {{"limit", 96 << 20}, {"reservation", 32 << 20}}},
        {"cpu", {{"quota", 50000}, {"period", 50000}, {"shares", 1024}}},
        {"pids", {{"limit", 7}}},
        {"unified", {{"memory.high", std::to_string(80 << 20)}}}};
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm-limits"});
    INFO(result.err);
    CHECK(result.status == 0);
    // The reservation is memory.low, the shares cpu.weight by runc's formula (1024: 39), and the
    // unified file as it is. The bundle's pid and cgroup namespaces: the process is PID 1, and its
    // cgroup with the limits is its namespace's root.
    CHECK(result.out == std::to_string(96 << 20) + "\n50000 50000\n7\n" + std::to_string(32 << 20) +
                            "\n39\n" + std::to_string(80 << 20) + "\n1\n1 /\n");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci create, start, kill and delete a microVM container", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    // sh is PID 1 of its pid namespace in the guest: SIGTERM reaches it as it handles it.
    VmBundle vm({"sh", "-c", "trap 'exit 143' TERM; sleep 100 & wait"});
    auto created = vm.rt({"create", "--bundle", vm.bundle.path(), "vm2"});
    INFO(created.err);
    REQUIRE(created.status == 0);
    auto state = vm.rt.state("vm2");
    CHECK(state.value("status", "") == "created");
    CHECK(state.value("pid", 0) > 0);
    REQUIRE(vm.rt({"start", "vm2"}).status == 0);
    CHECK(vm.rt.state("vm2").value("status", "") == "running");
    // The relay forwards it to the guest's sh, and exits with its status when it is gone. A
    // SIGTERM that comes before the trap is set is ignored, so it is sent until one arrives.
    REQUIRE(vm.rt({"kill", "vm2", "TERM"}).status == 0);
    std::string status = vm.rt.state("vm2").value("status", "");
    for (int i = 0; i < 60 && status != "stopped"; ++i) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (vm.rt.state("vm2").value("status", "") == "running") vm.rt({"kill", "vm2", "TERM"});
        status = vm.rt.state("vm2").value("status", "");
    }
    CHECK(status == "stopped");
    auto deleted = vm.rt({"delete", "vm2"});
    INFO(deleted.err);
    CHECK(deleted.status == 0);
    CHECK(!exists(vm.rt.root() + "/vm2"));
    CHECK(none_left(vm.rt.root()));
}

namespace {

// The VMM of a container: the relay's child (QEMU or hutch-vmm), by its name in /proc.
std::string vmm_child_name(pid_t relay) {
    std::string path = "/proc/" + std::to_string(relay) + "/task/" + std::to_string(relay) + "/children";
    std::string children = read_text(path);
    if (children.empty()) return "";
    return read_text("/proc/" + children.substr(0, children.find(' ')) + "/comm");
}

}  // namespace

TEST_CASE("hutch-oci create boots the microVM, and start only starts the process", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"echo", "the process ran"});
    TempDir out;
    std::string output = out.path() + "/output";
    // The relay, and so the process, writes to create's stdout: the file.
    auto created = shell(hutch_oci_command(vm.rt) + " create --bundle " + vm.bundle.path() + " vm4 >" +
                         output + " 2>&1");
    INFO(read_text(output));
    REQUIRE(created.status == 0);
    auto state = vm.rt.state("vm4");
    CHECK(state.value("status", "") == "created");
    // Booted: the VMM runs, and the agent waits for start; the process has not run.
    std::string vmm = vmm_child_name(state.value("pid", 0));
    CHECK((vmm == "qemu-system-x86" || vmm == "hutch-vmm"));
    CHECK(read_text(output).empty());
    REQUIRE(vm.rt({"start", "vm4"}).status == 0);
    CHECK(wait_for_status(vm.rt, "vm4", "stopped") == "stopped");
    CHECK(read_text(output) == "the process ran");
    CHECK(vm.rt({"delete", "vm4"}).status == 0);
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci create of a microVM that cannot boot fails in one line and leaves nothing",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"true"});
    TempDir dir;
    std::string not_a_kernel = dir.path() + "/vmlinux";
    std::ofstream(not_a_kernel) << "not a kernel\n";
    vm.bundle.config["annotations"]["run.oci.microvm.kernel"] = not_a_kernel;
    check_create_refused(vm, "vm5", "the VM stopped during its boot");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci gives a microVM's process the console socket's terminal, its size and its resizes",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    // One `stty size` per line typed, until "quit".
    VmBundle vm({"sh", "-c",
                 "tty; stty size; while read line && [ \"$line\" != quit ]; do stty size; done; echo bye"});
    vm.bundle.config["process"]["terminal"] = true;
    vm.bundle.config["process"]["consoleSize"] = {{"height", 40}, {"width", 100}};
    vm.bundle.save();
    ConsoleSocket console;
    auto created = vm.rt({"create", "--bundle", vm.bundle.path(), "--console-socket", console.path(), "vm6"});
    INFO(created.err);
    REQUIRE(created.status == 0);
    int master = console.receive_master();
    REQUIRE(master >= 0);
    REQUIRE(vm.rt({"start", "vm6"}).status == 0);
    // The guest's own pty, of consoleSize.
    std::string first = read_fd_until(master, "40 100", std::chrono::seconds(60));
    CHECK(first.find("/dev/pts/") != std::string::npos);
    CHECK(first.find("40 100") != std::string::npos);
    // A resize of the console reaches the guest's pty.
    CHECK(resize_reaches_guest(master));
    REQUIRE(::write(master, "quit\n", 5) == 5);
    CHECK(read_fd_until(master, "bye", std::chrono::seconds(60)).find("bye") != std::string::npos);
    ::close(master);
    CHECK(wait_for_status(vm.rt, "vm6", "stopped") == "stopped");
    CHECK(vm.rt({"delete", "vm6"}).status == 0);
    CHECK(none_left(vm.rt.root()));
}

namespace {

// Gone and reaped: no /proc entry, not even a zombie's.
bool gone_within_a_minute(pid_t pid) {
    return eventually([&] { return !exists("/proc/" + std::to_string(pid)); });
}

}  // namespace

TEST_CASE("hutch-oci exec runs further processes in a running microVM container", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sleep", "600"});
    vm.bundle.config["root"]["readonly"] = false;
    vm.bundle.save();
    TempDir files;
    REQUIRE(vm.rt({"create", "--bundle", vm.bundle.path(), "vmx"}).status == 0);
    // Before start the process is not running, and neither can an exec.
    auto early = vm.rt({"exec", "vmx", "true"});
    CHECK(early.status != 0);
    CHECK(early.err.find("a microVM's execs need its process running") != std::string::npos);
    CHECK(std::count(early.err.begin(), early.err.end(), '\n') == 1);
    REQUIRE(vm.rt({"start", "vmx"}).status == 0);

    // stdin, stdout, stderr and the exit status, in the guest's root and kernel.
    auto first =
        vm.rt({"exec", "vmx", "sh", "-c", "cat; echo to-stderr >&2; uname -r > /shared; exit 3"}, "fed\n");
    INFO(first.err);
    CHECK(first.status == 3);
    CHECK(first.out == "fed\n");
    CHECK(first.err == "to-stderr\n");
    auto second = vm.rt({"exec", "vmx", "cat", "/shared"});
    CHECK(second.status == 0);
    CHECK(!second.out.empty());
    CHECK(second.out != read_text("/proc/sys/kernel/osrelease") + "\n");  // the guest's kernel

    // The exec joins the first process's namespaces (config.json's pid, ipc, uts, mount and
    // cgroup): sleep is PID 1 there, the agent is out of sight, and the cgroup is the root.
    auto inside =
        vm.rt({"exec", "vmx", "sh", "-c",
               "cat /proc/1/comm; cat /proc/[0-9]*/comm | grep -c hutch-agent; cat /proc/self/cgroup; "
               "for n in pid mnt ipc uts cgroup; do "
               "[ \"$(readlink /proc/1/ns/$n)\" = \"$(readlink /proc/self/ns/$n)\" ] && echo -n \"$n \"; "
               "done"});
    INFO(inside.err);
    CHECK(inside.out == "sleep\n0\n0::/\npid mnt ipc uts cgroup ");

    // --process: its args, env, cwd and user.
    std::ofstream(files.path() + "/process.json")
        << nlohmann::json{{"args", {"sh", "-c", "id -u; pwd; echo $FOO"}},
                          {"env", {"FOO=bar", "PATH=/bin:/usr/bin"}},
                          {"cwd", "/bin"},
                          {"user", {{"uid", 1000}, {"gid", 1000}}}};
    auto described = vm.rt({"exec", "--process", files.path() + "/process.json", "vmx"});
    INFO(described.err);
    CHECK(described.status == 0);
    CHECK(described.out == "1000\n/bin\nbar\n");

    // A program that is not there: one line, from the guest.
    auto missing = vm.rt({"exec", "vmx", "/no/such/program"});
    CHECK(missing.status != 0);
    CHECK(missing.err.find("in the VM: exec /no/such/program") != std::string::npos);
    CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);

    // Detached, with a terminal through the console socket: the exec's pid is its relay, and a
    // signal to it reaches the process in the guest.
    ConsoleSocket console;
    std::string pid_file = files.path() + "/exec.pid";
    auto detached = vm.rt({"exec", "-d", "-t", "--console-socket", console.path(), "--pid-file", pid_file,
                           "vmx", "sh", "-c", "tty; while read line; do stty size; done"});
    INFO(detached.err);
    REQUIRE(detached.status == 0);
    int master = console.receive_master();
    REQUIRE(master >= 0);
    pid_t relay = std::stoi(read_text(pid_file));
    CHECK(read_fd_until(master, "/dev/pts/", std::chrono::seconds(60)).find("/dev/pts/") !=
          std::string::npos);
    CHECK(resize_reaches_guest(master));
    CHECK(::kill(relay, SIGTERM) == 0);
    CHECK(gone_within_a_minute(relay));
    ::close(master);
    auto left = vm.rt({"exec", "vmx", "sh", "-c", "ps | grep -c '[t]ty; while'"});
    CHECK(left.out == "0\n");  // the SIGTERM ended it in the guest

    CHECK(vm.rt({"kill", "vmx", "KILL"}).status == 0);
    CHECK(wait_for_status(vm.rt, "vmx", "stopped") == "stopped");
    CHECK(vm.rt({"delete", "vmx"}).status == 0);
    CHECK(none_left(vm.rt.root()));
}

namespace {

// /proc/PID/stat's state letter and the CPU time (utime + stime, in ticks) of a process.
struct ProcessTimes {
    char state = 0;
    uint64_t cpu_ticks = 0;
};

ProcessTimes process_times(pid_t pid) {
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    ProcessTimes times;
    std::string field;
    rest >> times.state;
    for (int i = 4; i <= 13; ++i) rest >> field;
    uint64_t utime = 0, stime = 0;
    rest >> utime >> stime;
    times.cpu_ticks = utime + stime;
    return times;
}

}  // namespace

TEST_CASE(
    "hutch-oci update, events and ps of a created or running microVM container: its cgroup in the guest",
    "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sleep", "600"});
    vm.bundle.config["linux"]["resources"] = {{"memory", {{"limit", 96 << 20}}},
                                              {"cpu", {{"quota", 50000}, {"period", 100000}}},
                                              {"pids", {{"limit", 7}}}};
    vm.bundle.save();
    REQUIRE(vm.rt({"create", "--bundle", vm.bundle.path(), "vmu"}).status == 0);
    // Created: the agent waits for go, and answers for the cgroup it made already, which holds no
    // process yet. The process starts under the limit set meanwhile.
    auto early = vm.rt({"update", "--pids-limit", "9", "vmu"});
    INFO(early.err);
    CHECK(early.status == 0);
    auto early_stats = nlohmann::json::parse(vm.rt({"events", "--stats", "vmu"}).out, nullptr, false);
    REQUIRE(early_stats.is_object());
    CHECK_FALSE(early_stats["data"]["pids"].contains("current"));  // 0: left out, as by runc
    CHECK(early_stats["data"]["pids"]["limit"] == 9);
    CHECK(vm.rt({"ps", "--format", "json", "vmu"}).out == "[]\n");
    REQUIRE(vm.rt({"start", "vmu"}).status == 0);
    CHECK(vm.rt({"exec", "vmu", "cat", "/sys/fs/cgroup/pids.max"}).out == "9\n");

    // ps: the pids of its cgroup's processes, as its pid namespace numbers them: sleep is 1, and
    // a detached exec's sleep another. The table would be the host's ps, which cannot show them.
    CHECK(vm.rt({"ps", "--format", "json", "vmu"}).out == "[1]\n");
    REQUIRE(vm.rt({"exec", "-d", "vmu", "sleep", "600"}).status == 0);
    std::vector<int> pids;
    for (int i = 0; i < 100 && pids.size() != 2; ++i) {
        auto listed = nlohmann::json::parse(vm.rt({"ps", "--format", "json", "vmu"}).out, nullptr, false);
        pids = listed.is_array() ? listed.get<std::vector<int>>() : std::vector<int>{};
    }
    REQUIRE(pids.size() == 2);
    CHECK(pids[0] == 1);
    CHECK(pids[1] > 1);
    auto table = vm.rt({"ps", "vmu"});
    CHECK(table.status != 0);
    CHECK(table.err.find("--format json lists their pids") != std::string::npos);
    CHECK(std::count(table.err.begin(), table.err.end(), '\n') == 1);
    CHECK(vm.rt({"exec", "vmu", "kill", std::to_string(pids[1])}).status == 0);

    // What the container sees: an exec is at its cgroup's root.
    auto limits = [&] {
        return vm
            .rt({"exec", "vmu", "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cpu.max",
                 "/sys/fs/cgroup/pids.max"})
            .out;
    };
    // 24 MiB held by tail: within the 96 MiB the container started with, not within 16.
    const std::string hog =
        "(echo 1000 > /proc/self/oom_score_adj; head -c 24m /dev/zero | tail > /dev/null); echo hog=$?";
    CHECK(vm.rt({"exec", "vmu", "sh", "-c", hog}).out == "hog=0\n");
    auto updated = vm.rt({"update", "--memory", "16m", "--cpu-quota", "30000", "--pids-limit", "20",
                          "--cpu-share", "2048", "vmu"});
    INFO(updated.err);
    REQUIRE(updated.status == 0);
    CHECK(limits() == std::to_string(16 << 20) + "\n30000 100000\n20\n");
    CHECK(vm.rt({"exec", "vmu", "cat", "/sys/fs/cgroup/cpu.weight"}).out == "79\n");

    // events: runc's stats of the guest's cgroup, and an "oom" event when its OOM killer takes
    // the hog; the stream ends with the container.
    auto once = vm.rt({"events", "--stats", "vmu"});
    INFO(once.err);
    REQUIRE(once.status == 0);
    auto stats = nlohmann::json::parse(once.out, nullptr, false);
    REQUIRE(stats.is_object());
    CHECK(stats["type"] == "stats");
    CHECK(stats["id"] == "vmu");
    CHECK(stats["data"]["memory"]["usage"]["limit"] == 16 << 20);
    CHECK(stats["data"]["memory"]["usage"]["usage"].get<uint64_t>() > 0);
    CHECK(stats["data"]["pids"]["current"] == 1);  // sleep
    CHECK(stats["data"]["pids"]["limit"] == 20);
    // A stream whose reader is killed ends at its next line: no relay is left behind for it.
    std::string events_relay = std::string("--events") + '\0' + vm.rt.root();
    {
        Background killed({"--root", vm.rt.root(), "events", "--interval", "1s", "vmu"});
        REQUIRE(killed.next_event("stats", std::chrono::seconds(30)).is_object());
        CHECK(processes_mentioning(events_relay).size() == 1);
    }
    CHECK(none_left(events_relay));
    Background events({"--root", vm.rt.root(), "events", "--interval", "1s", "vmu"});
    // The first stats event says events has read the OOM count that the hog must raise.
    REQUIRE(events.next_event("stats", std::chrono::seconds(30)).is_object());
    CHECK(vm.rt({"exec", "vmu", "sh", "-c", hog}).out == "hog=137\n");
    CHECK(events.next_event("oom", std::chrono::seconds(30)) ==
          nlohmann::json{{"type", "oom"}, {"id", "vmu"}});

    // A new period alone keeps the quota; a document's -1 is no limit.
    CHECK(vm.rt({"update", "--cpu-period", "50000", "vmu"}).status == 0);
    auto document =
        vm.rt({"update", "--resources", "-", "vmu"}, R"({"memory":{"limit":-1},"pids":{"limit":-1}})");
    INFO(document.err);
    CHECK(document.status == 0);
    CHECK(limits() == "max\n30000 50000\nmax\n");

    // More memory than the VM was sized for at create, a period the kernel does not take, and a
    // file the guest's cgroup does not have (refused in the guest): one line each, and nothing
    // changed.
    auto too_much = vm.rt({"update", "--memory", "1g", "vmu"});
    CHECK(too_much.status != 0);
    CHECK(too_much.err.find("a memory limit of 1024 MiB needs a VM of") != std::string::npos);
    CHECK(std::count(too_much.err.begin(), too_much.err.end(), '\n') == 1);
    auto bad_period = vm.rt({"update", "--cpu-period", "2000000", "vmu"});
    CHECK(bad_period.status != 0);
    CHECK(bad_period.err.find("limits.cpuPeriod: not between 1000 and 1000000") != std::string::npos);
    CHECK(std::count(bad_period.err.begin(), bad_period.err.end(), '\n') == 1);
    auto no_file = vm.rt({"update", "--resources", "-", "vmu"}, R"({"unified":{"memory.nothing":"1"}})");
    CHECK(no_file.status != 0);
    CHECK(no_file.err.find("in the VM: unified[\"memory.nothing\"]") != std::string::npos);
    CHECK(std::count(no_file.err.begin(), no_file.err.end(), '\n') == 1);
    CHECK(limits() == "max\n30000 50000\nmax\n");

    CHECK(vm.rt({"delete", "--force", "vmu"}).status == 0);
    CHECK(events.wait(std::chrono::seconds(10)) == 0);
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci pause stops a microVM container's whole VM, and resume lets it go on",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.1; done"});
    vm.bundle.config["root"]["readonly"] = false;
    vm.bundle.save();
    REQUIRE(vm.rt({"create", "--bundle", vm.bundle.path(), "vmp"}).status == 0);
    REQUIRE(vm.rt({"start", "vmp"}).status == 0);
    auto count = [&] {
        auto r = vm.rt({"exec", "vmp", "cat", "/count"});
        return r.status == 0 && !r.out.empty() ? std::stoi(r.out) : -1;
    };
    // The count once it is above n, or within half a minute.
    auto count_above = [&](int n) {
        int now = count();
        for (int i = 0; i < 60 && now <= n; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            now = count();
        }
        return now;
    };
    int before = count_above(0);
    CHECK(before > 0);

    REQUIRE(vm.rt({"pause", "vmp"}).status == 0);
    CHECK(vm.rt.state("vmp").value("status", "") == "paused");
    // The VMM is stopped: its CPU time stands still, whatever the guest was doing.
    pid_t vmm = std::stoi(read_text(vm.rt.root() + "/vmp/vmm.pid"));
    ProcessTimes paused = process_times(vmm);
    CHECK(paused.state == 'T');
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(process_times(vmm).cpu_ticks == paused.cpu_ticks);
    auto refused = vm.rt({"exec", "vmp", "true"});
    CHECK(refused.err.find("it is paused") != std::string::npos);
    // Its agent, stopped with it, cannot answer: refused in one line.
    for (std::vector<std::string> verb : {std::vector<std::string>{"update", "--pids-limit", "9"},
                                          {"events", "--stats"},
                                          {"ps", "--format", "json"}}) {
        verb.push_back("vmp");
        auto unanswered = vm.rt(verb);
        CHECK(unanswered.status != 0);
        CHECK(unanswered.err.find("it is paused (its VM is stopped") != std::string::npos);
        CHECK(std::count(unanswered.err.begin(), unanswered.err.end(), '\n') == 1);
    }

    REQUIRE(vm.rt({"resume", "vmp"}).status == 0);
    CHECK(vm.rt.state("vmp").value("status", "") == "running");
    CHECK(process_times(vmm).state != 'T');
    // The loop goes on where it stood.
    int after = count();
    CHECK(after >= before);
    CHECK(count_above(after) > after);

    // A paused VM is killed as a running one is.
    REQUIRE(vm.rt({"pause", "vmp"}).status == 0);
    CHECK(vm.rt({"kill", "vmp", "KILL"}).status == 0);
    CHECK(wait_for_status(vm.rt, "vmp", "stopped") == "stopped");
    CHECK(vm.rt({"delete", "vmp"}).status == 0);
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci's microVM takes config.json's bind mounts, tmpfs, read-only root and rlimits",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sh", "-c",
                 "cat /vol/in; echo from the VM > /vol/out; cat /etc/copied; ulimit -n; "
                 "touch /x 2>/dev/null || echo read-only; touch /scratch/y && echo tmpfs-writable"});
    TempDir host;
    std::ofstream(host.path() + "/in") << "shared\n";
    std::ofstream(host.path() + "/file") << "copied in\n";
    auto& config = vm.bundle.config;
    config["root"]["readonly"] = true;
    config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 333}, {"hard", 333}}};
    // The default mounts (proc, /dev, devpts, sysfs...) are the agent's own in the guest.
    config["mounts"].push_back(
        {{"destination", "/vol"}, {"type", "bind"}, {"source", host.path()}, {"options", {"rbind", "rw"}}});
    config["mounts"].push_back({{"destination", "/etc/copied"},
                                {"type", "bind"},
                                {"source", host.path() + "/file"},
                                {"options", {"bind", "ro"}}});
    config["mounts"].push_back({{"destination", "/scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm7"});
    INFO(result.err);
    CHECK(result.status == 0);
    CHECK(result.out == "shared\ncopied in\n333\nread-only\ntmpfs-writable\n");
    CHECK(read_text(host.path() + "/out") == "from the VM");

    // A mount the VM cannot give is refused at create, in one line.
    config["mounts"].push_back({{"destination", "/img"}, {"type", "ext4"}, {"source", "/dev/null"}});
    check_create_refused(vm, "vm8", "mount of type ext4 on /img: not supported in a microVM");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci's microVM applies config.json's capabilities, noNewPrivileges and seccomp filter inside",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sh", "-c",
                 "grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
                 "mkdir /d 2>/dev/null || echo mkdir refused; "
                 "touch /f && chown 1 /f && echo chown allowed; "
                 "mknod /n c 1 3 2>/dev/null || echo mknod refused"});
    auto& config = vm.bundle.config;
    config["root"]["readonly"] = false;  // so that only the filter refuses the mkdir
    const nlohmann::json two = {"CAP_CHOWN", "CAP_KILL"};
    config["process"]["capabilities"] = {{"bounding", two}, {"effective", two}, {"permitted", two}};
    config["process"]["noNewPrivileges"] = true;
    config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}}}}};
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm9"});
    INFO(result.err);
    CHECK(result.status == 0);
    // CAP_CHOWN is bit 0, CAP_KILL bit 5; Seccomp 2 is a filter.
    CHECK(result.out ==
          "CapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n"
          "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
          "mkdir refused\nchown allowed\nmknod refused\n");

    // A filter that would hand the guest's syscalls to a listener on the host cannot be given.
    config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"listenerPath", "/run/nowhere.sock"},
                                  {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
    check_create_refused(vm, "vm10", "linux.seccomp: SCMP_ACT_NOTIFY is not supported in a microVM");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci runs a microVM's prestart, createRuntime, poststart and poststop hooks on the host",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"true"});
    TempDir out;
    auto hook = [&](const std::string& name) {
        return nlohmann::json{{"path", "/bin/sh"},
                              {"args", {"sh", "-c", "cat > " + out.path() + "/" + name}}};
    };
    for (const char* kind : {"prestart", "createRuntime", "poststart", "poststop"})
        vm.bundle.config["hooks"][kind] = {hook(kind)};
    vm.bundle.save();
    auto result = vm.rt({"run", "--bundle", vm.bundle.path(), "vm9"});
    INFO(result.err);
    CHECK(result.status == 0);
    for (const char* kind : {"prestart", "createRuntime", "poststart", "poststop"}) {
        auto state = nlohmann::json::parse(read_text(out.path() + "/" + kind), nullptr, false);
        INFO(kind);
        REQUIRE(state.is_object());
        CHECK(state["id"] == "vm9");
    }
    auto created = nlohmann::json::parse(read_text(out.path() + "/createRuntime"));
    CHECK(created["status"] == "created");
    CHECK(created["pid"].get<int>() > 0);
    CHECK(nlohmann::json::parse(read_text(out.path() + "/poststop"))["status"] == "stopped");

    // Hooks that run in the container have no namespaces of it on the host to run in.
    vm.bundle.config["hooks"] = {{"startContainer", {hook("startContainer")}}};
    check_create_refused(vm, "vm10", "createContainer and startContainer hooks");
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci refuses run.oci.microvm.disks that are not regular files, in one line",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"true"});
    for (const char* disks :
         {"not json", "[]", "[\"relative.img\"]", "[\"/dev/null\"]", "[\"/nonexistent.img\"]"}) {
        vm.bundle.config["annotations"]["run.oci.microvm.disks"] = disks;
        INFO(disks);
        check_create_refused(vm, "vm9", "run.oci.microvm.disks");
    }
    CHECK(none_left(vm.rt.root()));
}

TEST_CASE("hutch-oci delete --force of a running microVM container leaves no QEMU", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmBundle vm({"sleep", "100"});
    REQUIRE(vm.rt({"create", "--bundle", vm.bundle.path(), "vm3"}).status == 0);
    REQUIRE(vm.rt({"start", "vm3"}).status == 0);
    CHECK(vm.rt({"delete", "--force", "vm3"}).status == 0);
    CHECK(!exists(vm.rt.root() + "/vm3"));
    CHECK(none_left(vm.rt.root()));
}

// No VM is booted: the handler is refused before anything is made.
TEST_CASE("hutch-oci refuses an unknown run.oci.handler in one line", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.config["annotations"] = {{"run.oci.handler", "krun"}};
    bundle.save();
    auto result = rt({"run", "--bundle", bundle.path(), "handler"});
    CHECK(result.status != 0);
    CHECK(result.err.find("run.oci.handler=krun: unknown handler (hutch knows microvm)") !=
          std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(!exists(rt.root() + "/handler"));
}
