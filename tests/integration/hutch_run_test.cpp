// The `hutch` command's containers as a person drives them: run (foreground and -d), create and
// start, ps, logs, exec, stop, kill, rm, inspect, pause and stats, from a busybox image loaded
// into a store of the test's own. Every test checks what the container really did (its output,
// its exit status, its cgroup files) and that nothing is left behind: no container directory,
// overlay mount or runtime state.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "hutch_command.h"
#include "images_registry.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// A store under root holding image (a busybox_image) as NAME.
void load_image(const TempDir& root, const TestImage& image, const std::string& name) {
    check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), name}));
}

// The container's record once its status is `status`, waiting up to kPatience.
nlohmann::json wait_for_status(const TempDir& root, const std::string& name, const std::string& status) {
    nlohmann::json record;
    if (eventually([&] { return (record = inspect(root, name))["status"] == status; })) return record;
    FAIL("container " << name << " never reached status " << status);
    return {};
}

size_t entries_in(const std::string& dir) {
    if (!fs::exists(dir)) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// Nothing of any container left: no directory (but the store's lock), mount or runtime state.
void check_nothing_left(const TempDir& root) {
    CHECK(entries_in(root.path() + "/storage/containers") == 1);  // the lock file
    CHECK(host_mounts_matching(root.path()).empty());
    CHECK(entries_in(root.path() + "/run") == 0);
}

// The cgroup file as the container sees it: cgroup v2's name, or v1's in its controller's dir.
std::string cgroup_read(const TempDir& root, const std::string& name, const std::string& v2,
                        const std::string& v1) {
    auto r = hutch_cmd(root, {"exec", name, "sh", "-c",
                              "cat /sys/fs/cgroup/" + v2 + " 2>/dev/null || cat /sys/fs/cgroup/" + v1});
    check_ok(r);
    return r.out;
}

const nlohmann::json kBusyboxConfig = {
    {"Cmd", {"sh", "-c", "echo $GREETING; pwd; id -u"}},
    {"Env", {"PATH=/bin:/sbin", "GREETING=hello from the image"}},
    {"WorkingDir", "/tmp"},
    {"User", "nobody"},
    {"Labels", {{"org.example.purpose", "tests"}}},
    {"Volumes", {{"/data", nlohmann::json::object()}}},
    {"ExposedPorts", {{"8080/tcp", nlohmann::json::object()}}},
};

}  // namespace

TEST_CASE("hutch run: the image's Cmd, Env, WorkingDir and User, flags over them, the exit status",
          "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");

    auto defaults = hutch_cmd(root, {"run", "--rm", "localhost/bb:1"});
    check_ok(defaults);
    CHECK(defaults.out == "hello from the image\n/tmp\n65534\n");

    auto overridden = hutch_cmd(root, {"run", "--rm", "-e", "GREETING=from a flag", "-w", "/", "-u", "root",
                                       "--hostname", "box", "localhost/bb:1", "sh", "-c",
                                       "echo $GREETING; pwd; id -u; hostname; echo to-stderr >&2; exit 7"});
    CHECK(overridden.status == 7);
    CHECK(overridden.out == "from a flag\n/\n0\nbox\n");
    CHECK(overridden.err == "to-stderr\n");

    auto entrypoint =
        hutch_cmd(root, {"run", "--rm", "--entrypoint", "/bin/echo", "localhost/bb:1", "a", "b"});
    check_ok(entrypoint);
    CHECK(entrypoint.out == "a b\n");

    auto from_stdin = hutch_cmd(
        root, {"run", "--rm", "-i", "localhost/bb:1", "sh", "-c", "read line; echo got $line"}, "typed\n");
    check_ok(from_stdin);
    CHECK(from_stdin.out == "got typed\n");
    // Our stdout a pipe whose reader is gone: the container's write fails as it would have
    // written to that pipe itself, and the run ends (yes, as pid 1 of its namespace, is not
    // killed by SIGPIPE: it sees EPIPE and exits).
    auto piped = run_command({"bash", "-c",
                              "set -o pipefail; timeout 120 " + std::string(HUTCH_BINARY) +
                                  " --storage-root " + root.path() + "/storage --runroot " + root.path() +
                                  "/run run --rm localhost/bb:1 yes | head -n 1"});
    CHECK(piped.out == "y\n");
    CHECK(piped.status != 124);
    auto no_stdin =
        hutch_cmd(root, {"run", "--rm", "localhost/bb:1", "sh", "-c", "cat; echo done"}, "ignored\n");
    CHECK(no_stdin.out == "done\n");
    check_nothing_left(root);
}

TEST_CASE("hutch run --rm mounts the rootfs volatile; a container that stays gets a durable one",
          "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    // The container's root in its own mountinfo: "... / / OPTIONS - overlay overlay SUPER_OPTIONS".
    auto show_root = [&](std::vector<std::string> run) {
        for (const char* word : {"localhost/bb:1", "grep", " / / ", "/proc/self/mountinfo"})
            run.push_back(word);
        return hutch_cmd(root, run);
    };

    auto removed = show_root({"run", "--rm"});
    check_ok(removed);
    CHECK(removed.out.find(" - overlay overlay ") != std::string::npos);
    // ",volatile", or ",fsync=volatile" as newer kernels show it.
    CHECK(removed.out.find("volatile") != std::string::npos);

    auto kept = show_root({"run", "--name", "kept"});
    check_ok(kept);
    CHECK(kept.out.find(" - overlay overlay ") != std::string::npos);
    CHECK(kept.out.find("volatile") == std::string::npos);
    check_ok(hutch_cmd(root, {"rm", "kept"}));
    check_nothing_left(root);
}

TEST_CASE("hutch run: without --rm the container stays, exited, with its log; rm removes it", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");

    auto ran = hutch_cmd(
        root, {"run", "--name", "kept", "localhost/bb:1", "sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(ran.status == 3);
    auto record = inspect(root, "kept");
    CHECK(record["status"] == "exited");
    CHECK(record["exitCode"] == 3);
    CHECK(record["image"] == "localhost/bb:1");
    CHECK(record["imageDigest"] == image.manifest_digest);
    CHECK(record["labels"]["org.example.purpose"] == "tests");
    CHECK(record["volumes"] == nlohmann::json({"/data"}));
    CHECK(record["exposedPorts"] == nlohmann::json({"8080/tcp"}));
    CHECK(host_mounts_matching(root.path()).empty());  // unmounted once it exited

    auto logs = hutch_cmd(root, {"logs", "kept"});
    check_ok(logs);
    CHECK(logs.out == "out\n");
    CHECK(logs.err == "err\n");
    auto listed = hutch_cmd(root, {"ps", "-a"});
    CHECK(listed.out.find("Exited (3)") != std::string::npos);
    CHECK(hutch_cmd(root, {"ps"}).out.find("kept") == std::string::npos);
    // -q: the short id alone, as `hutch rm -f $(hutch ps -aq)` needs.
    CHECK(hutch_cmd(root, {"ps", "-aq"}).out == record["id"].get<std::string>().substr(0, 12) + "\n");
    CHECK(hutch_cmd(root, {"ps", "-q"}).out.empty());

    // Started again: a second run of the same container, on the same writable layer.
    check_ok(hutch_cmd(root, {"start", "kept"}));
    wait_for_status(root, "kept", "exited");
    CHECK(hutch_cmd(root, {"logs", "kept"}).out == "out\nout\n");

    check_ok(hutch_cmd(root, {"rm", "kept"}));
    check_one_line_failure(hutch_cmd(root, {"inspect", "kept"}));
    check_nothing_left(root);
}

TEST_CASE("hutch run -d: ps, logs -f, exec, stop with the image's StopSignal, rm", "[hutch-run]") {
    nlohmann::json config = kBusyboxConfig;
    config["StopSignal"] = "SIGUSR1";
    config["User"] = "root";
    TestImage image = busybox_image(config);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");

    auto started = hutch_cmd(root, {"run", "-d", "--name", "svc", "localhost/bb:1", "sh", "-c",
                                    "trap 'echo stopping; exit 0' USR1; echo ready; echo warn >&2; "
                                    "while true; do sleep 0.1; done"});
    check_ok(started);
    REQUIRE(started.out.size() == 65);  // the id and a newline
    auto record = wait_for_status(root, "svc", "running");
    CHECK(record["id"] == started.out.substr(0, 64));
    CHECK(process_alive(record["pid"].get<pid_t>()));
    CHECK(
        host_mounts_matching(root.path() + "/storage/containers/" + record["id"].get<std::string>()).size() ==
        1);

    auto listed = hutch_cmd(root, {"ps"});
    CHECK(listed.out.find("svc") != std::string::npos);
    CHECK(listed.out.find(started.out.substr(0, 12)) != std::string::npos);
    // By a prefix of the id, as docker takes it.
    auto exec = hutch_cmd(root, {"exec", "-e", "X=from exec", started.out.substr(0, 8), "sh", "-c",
                                 "echo $X; cat /proc/1/cmdline"});
    check_ok(exec);
    CHECK(exec.out.starts_with("from exec\nsh"));
    // The monitor ignores no signal of its own, so the container inherits none from it.
    auto signals = hutch_cmd(root, {"exec", "svc", "grep", "-E", "SigIgn|SigBlk", "/proc/1/status"});
    REQUIRE(signals.out.starts_with("SigBlk:\t0000000000000000\nSigIgn:\t"));
    uint64_t ignored = std::stoull(signals.out.substr(signals.out.rfind('\t') + 1), nullptr, 16);
    // (SIGPIPE is not checked: this test process ignores it, and hutch inherits that.)
    CHECK((ignored & (uint64_t{1} << (SIGHUP - 1))) == 0);
    auto exec_status = hutch_cmd(root, {"exec", "svc", "sh", "-c", "exit 4"});
    CHECK(exec_status.status == 4);
    auto as_nobody = hutch_cmd(root, {"exec", "-u", "nobody", "svc", "id", "-u"});
    check_ok(as_nobody);
    CHECK(as_nobody.out == "65534\n");

    REQUIRE(eventually([&] {
        return hutch_cmd(root, {"logs", "svc"}).out == "ready\n";
    }));  // the trap is set
    auto stopped = hutch_cmd(root, {"stop", "-t", "10", "svc"});
    check_ok(stopped);
    record = inspect(root, "svc");
    CHECK(record["status"] == "exited");
    CHECK(record["exitCode"] == 0);  // the trap ran: SIGUSR1, not SIGKILL
    auto logs = hutch_cmd(root, {"logs", "-f", "svc"});
    check_ok(logs);
    CHECK(logs.out == "ready\nstopping\n");
    CHECK(logs.err == "warn\n");
    auto tail = hutch_cmd(root, {"logs", "--tail", "1", "svc"});
    CHECK(tail.out == "stopping\n");
    CHECK_FALSE(process_alive(record["pid"].get<pid_t>()));
    check_ok(hutch_cmd(root, {"rm", "svc"}));
    check_nothing_left(root);
}

TEST_CASE("hutch: create then start, pause and unpause, kill, stop that ends in SIGKILL", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");

    auto created = hutch_cmd(root, {"create", "--name", "later", "-u", "root", "localhost/bb:1", "sh", "-c",
                                    "echo started; while true; do sleep 0.1; done"});
    check_ok(created);
    CHECK(inspect(root, "later")["status"] == "created");
    CHECK(hutch_cmd(root, {"logs", "later"}).out.empty());  // not started: nothing ran yet
    check_ok(hutch_cmd(root, {"start", "later"}));
    CHECK(inspect(root, "later")["status"] == "running");

    check_ok(hutch_cmd(root, {"pause", "later"}));
    CHECK(inspect(root, "later")["status"] == "paused");
    auto ps = hutch_cmd(root, {"ps"});
    CHECK(ps.out.find("Paused") != std::string::npos);
    check_ok(hutch_cmd(root, {"unpause", "later"}));
    auto stats = hutch_cmd(root, {"stats", "--no-stream", "later"});
    check_ok(stats);
    CHECK(stats.out.find("later") != std::string::npos);

    check_one_line_failure(hutch_cmd(root, {"rm", "later"}));  // running: needs -f
    CHECK(inspect(root, "later")["status"] == "running");
    check_ok(hutch_cmd(root, {"kill", "-s", "TERM", "later"}));  // sh as pid 1 ignores it
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(inspect(root, "later")["status"] == "running");
    // SIGTERM ignored, so SIGKILL after the timeout: the status a signal gives.
    check_ok(hutch_cmd(root, {"stop", "-t", "1", "later"}));
    auto record = inspect(root, "later");
    CHECK(record["status"] == "exited");
    CHECK(record["exitCode"] == 137);
    check_ok(hutch_cmd(root, {"rm", "later"}));
    check_nothing_left(root);
}

TEST_CASE("hutch run: limits and restrictions, seen inside the container and in its cgroup files",
          "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    TempDir shared;
    std::ofstream(shared.path() + "/from-host") << "host data\n";

    auto started = hutch_cmd(root, {"run",
                                    "-d",
                                    "--name",
                                    "limited",
                                    "-u",
                                    "root",
                                    "--memory",
                                    "64m",
                                    "--pids-limit",
                                    "20",
                                    "--cpus",
                                    "0.5",
                                    "--read-only",
                                    "--tmpfs",
                                    "/scratch",
                                    "-v",
                                    shared.path() + ":/shared:ro",
                                    "--cap-drop",
                                    "ALL",
                                    "--cap-add",
                                    "kill",
                                    "--security-opt",
                                    "no-new-privileges",
                                    "localhost/bb:1",
                                    "sleep",
                                    "1000"});
    check_ok(started);
    CHECK(cgroup_read(root, "limited", "memory.max", "memory/memory.limit_in_bytes") == "67108864\n");
    CHECK(cgroup_read(root, "limited", "pids.max", "pids/pids.max") == "20\n");
    auto cpu = cgroup_read(root, "limited", "cpu.max", "cpu/cpu.cfs_quota_us");
    CHECK((cpu == "50000 100000\n" || cpu == "50000\n"));

    auto inside = hutch_cmd(root, {"exec", "limited", "sh", "-c",
                                   "touch /x 2>&1; touch /scratch/y && echo tmpfs-ok; cat /shared/from-host; "
                                   "touch /shared/z 2>&1; grep -E 'CapEff|NoNewPrivs' /proc/self/status"});
    CHECK(inside.out.find("/x: Read-only file system") != std::string::npos);
    CHECK(inside.out.find("tmpfs-ok") != std::string::npos);
    CHECK(inside.out.find("host data") != std::string::npos);
    CHECK(inside.out.find("/shared/z: Read-only file system") != std::string::npos);
    CHECK(inside.out.find("CapEff:\t0000000000000020") != std::string::npos);  // CAP_KILL only
    CHECK(inside.out.find("NoNewPrivs:\t1") != std::string::npos);

    auto network = hutch_cmd(root, {"exec", "limited", "sh", "-c", "ls /sys/class/net"});
    CHECK(network.out == "lo\n");  // --network none by default
    check_ok(hutch_cmd(root, {"rm", "-f", "limited"}));
    CHECK_FALSE(fs::exists(shared.path() + "/z"));
    check_nothing_left(root);
}

TEST_CASE("hutch run: bad input gives one line and status 125, and leaves no container", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");

    const std::vector<std::vector<std::string>> bad = {
        {"run", "--rm", "localhost/bb:1", "/no/such/program"},
        {"run", "--memory", "lots", "localhost/bb:1", "true"},
        {"run", "--cpus", "-1", "localhost/bb:1", "true"},
        {"run", "--network", "bridge", "localhost/bb:1", "true"},
        {"run", "-v", "relative:/x", "localhost/bb:1", "true"},
        {"run", "-v", "/no/such/dir:/x", "localhost/bb:1", "true"},
        {"run", "-u", "nosuchuser", "localhost/bb:1", "true"},
        {"run", "--cap-add", "CAP_NONSENSE", "localhost/bb:1", "true"},
        {"run", "--name", "../escape", "localhost/bb:1", "true"},
        {"run", "--security-opt", "seccomp=unconfined", "localhost/bb:1", "true"},
        {"run", "127.0.0.1:1/nothing/here:latest", "true"},
        {"run", "Not A Reference", "true"},
        {"run", "localhost/bb:1", "echo", "\xff"},
        {"logs", "nosuch"},
        {"exec", "nosuch", "true"},
        {"stop", "nosuch"},
        {"rm", "nosuch"},
    };
    for (const auto& args : bad) {
        std::string line;
        for (const auto& word : args) line += word + " ";
        INFO(line);
        auto r = hutch_cmd(root, args);
        if (std::ranges::find(args, "/no/such/program") != args.end()) {
            // The runtime's exec fails inside the container: the status says so, in one line.
            CHECK(r.status != 0);
        } else {
            check_one_line_failure(r);
        }
    }
    // The container whose program was missing was made, failed and removed (--rm); every other
    // was refused before it was made.
    check_nothing_left(root);

    check_ok(hutch_cmd(root, {"run", "--name", "taken", "localhost/bb:1", "true"}));
    check_one_line_failure(hutch_cmd(root, {"run", "--name", "taken", "localhost/bb:1", "true"}));
    check_one_line_failure(hutch_cmd(root, {"exec", "taken", "true"}));  // exited
    check_ok(hutch_cmd(root, {"rm", "taken"}));
    check_nothing_left(root);
}

TEST_CASE("hutch start of a container that ends at once: its monitor's exited stays", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    // Several tries: the start's own write came after the monitor's "exited" only sometimes.
    for (int i = 0; i < 5; ++i) {
        std::string name = "quick" + std::to_string(i);
        check_ok(hutch_cmd(root, {"create", "--name", name, "localhost/bb:1", "true"}));
        check_ok(hutch_cmd(root, {"start", name}));
        auto record = wait_for_status(root, name, "exited");
        CHECK(record["exitCode"] == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(inspect(root, name)["status"] == "exited");
        check_ok(hutch_cmd(root, {"rm", name}));
    }
    check_nothing_left(root);
}

TEST_CASE("hutch start twice at once: one starts it, the other backs off in one line", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    // Exits at once the first time; started again, it stays (its writable layer remembers).
    check_ok(hutch_cmd(root, {"run", "--name", "twice", "-u", "root", "localhost/bb:1", "sh", "-c",
                              "test -e /ran && exec sleep 1000; touch /ran"}));
    CHECK(inspect(root, "twice")["status"] == "exited");

    CommandResult first, second;
    std::thread other([&] { second = hutch_cmd(root, {"start", "twice"}); });
    first = hutch_cmd(root, {"start", "twice"});
    other.join();
    INFO("first: " << first.status << " " << first.err << "second: " << second.status << " " << second.err);
    REQUIRE((first.status == 0) != (second.status == 0));
    const CommandResult& loser = first.status == 0 ? second : first;
    check_one_line_failure(loser);
    CHECK(loser.err.find("already") != std::string::npos);
    // The winner's container is whole: running, its process alive, the runtime's side there.
    auto record = wait_for_status(root, "twice", "running");
    CHECK(process_alive(record["pid"].get<pid_t>()));
    CHECK(entries_in(root.path() + "/run") == 1);
    check_ok(hutch_cmd(root, {"rm", "-f", "twice"}));
    check_nothing_left(root);
}

TEST_CASE("hutch run -d: the monitor keeps none of the command's inherited fds", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    std::string marker = root.path() + "/inherited-marker";
    // Not close-on-exec: hutch inherits it, as it would a caller's pipe or lock.
    int fd = ::open(marker.c_str(), O_RDWR | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    auto started = hutch_cmd(root, {"run", "-d", "--name", "fds", "localhost/bb:1", "sleep", "1000"});
    ::close(fd);
    check_ok(started);
    auto record = wait_for_status(root, "fds", "running");
    std::string fd_dir = "/proc/" + std::to_string(record["monitorPid"].get<pid_t>()) + "/fd";
    REQUIRE(fs::exists(fd_dir));
    std::vector<std::string> targets;
    for (const auto& entry : fs::directory_iterator(fd_dir)) {
        std::error_code error;
        targets.push_back(fs::read_symlink(entry.path(), error).string());
    }
    INFO("the monitor's fds: " << nlohmann::json(targets).dump());
    CHECK(std::ranges::find(targets, marker) == targets.end());
    check_ok(hutch_cmd(root, {"rm", "-f", "fds"}));
    check_nothing_left(root);
}

TEST_CASE("hutch: an unreadable record breaks no other container, and rm -f removes it", "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    check_ok(hutch_cmd(root, {"run", "--name", "fine", "localhost/bb:1", "true"}));
    auto broken = hutch_cmd(root, {"run", "-d", "--name", "broken", "localhost/bb:1", "sleep", "1000"});
    check_ok(broken);
    std::string id = broken.out.substr(0, 64);
    auto record = wait_for_status(root, "broken", "running");
    std::ofstream(root.path() + "/storage/containers/" + id + "/container.json", std::ios::trunc) << "{";

    auto listed = hutch_cmd(root, {"ps", "-a"});
    check_ok(listed);
    CHECK(listed.out.find("fine") != std::string::npos);
    CHECK(listed.out.find("Unknown") != std::string::npos);
    check_ok(hutch_cmd(root, {"inspect", "fine"}));
    check_ok(hutch_cmd(root, {"rm", "fine"}));
    // Its record unread, only -f may guess it is safe to remove.
    check_one_line_failure(hutch_cmd(root, {"rm", id}));
    check_ok(hutch_cmd(root, {"rm", "-f", id}));
    // Its process killed, its rootfs unmounted, its runtime state gone.
    CHECK(eventually([&] { return !process_alive(record["pid"].get<pid_t>()); }));
    check_nothing_left(root);
}

TEST_CASE("hutch rm: a created container goes without -f; several names go on past a bad one",
          "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    check_ok(hutch_cmd(root, {"create", "--name", "made", "localhost/bb:1", "sleep", "1000"}));
    check_ok(hutch_cmd(root, {"run", "--name", "ran", "localhost/bb:1", "true"}));

    auto removed = hutch_cmd(root, {"rm", "nosuch1", "made", "nosuch2", "ran"});
    INFO("stdout: " << removed.out << "\nstderr: " << removed.err);
    CHECK(removed.status == 125);
    CHECK(removed.out == "made\nran\n");
    CHECK(removed.err == "hutch: no such container: nosuch1\nhutch: no such container: nosuch2\n");
    check_nothing_left(root);

    auto stopped = hutch_cmd(root, {"stop", "nosuch", "other"});
    CHECK(stopped.status == 125);
    CHECK(std::ranges::count(stopped.err, '\n') == 2);
    auto killed = hutch_cmd(root, {"kill", "nosuch", "other"});
    CHECK(killed.status == 125);
    CHECK(std::ranges::count(killed.err, '\n') == 2);
}

TEST_CASE("hutch run and exec -e NAME: the caller's value, or nothing when the caller has none",
          "[hutch-run]") {
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    // Inherited by the hutch commands this test runs.
    REQUIRE(::setenv("HUTCH_TEST_FROM_CALLER", "the caller's", 1) == 0);
    ::unsetenv("HUTCH_TEST_NOT_SET");
    const std::string show = "echo \"$HUTCH_TEST_FROM_CALLER\"; env | grep -c HUTCH_TEST_NOT_SET";
    auto ran = hutch_cmd(root, {"run", "--rm", "-e", "HUTCH_TEST_FROM_CALLER", "-e", "HUTCH_TEST_NOT_SET",
                                "localhost/bb:1", "sh", "-c", show});
    CHECK(ran.out == "the caller's\n0\n");

    check_ok(hutch_cmd(root, {"run", "-d", "--name", "env", "localhost/bb:1", "sleep", "1000"}));
    auto exec = hutch_cmd(
        root, {"exec", "-e", "HUTCH_TEST_FROM_CALLER", "-e", "HUTCH_TEST_NOT_SET", "env", "sh", "-c", show});
    ::unsetenv("HUTCH_TEST_FROM_CALLER");
    CHECK(exec.out == "the caller's\n0\n");
    check_ok(hutch_cmd(root, {"rm", "-f", "env"}));
    check_nothing_left(root);
}

TEST_CASE("hutch run -t without -i: the container's terminal has the caller's size", "[hutch-run]") {
    if (::access("/usr/bin/script", X_OK) != 0)
        if (::access("/usr/bin/script", X_OK) != 0) {
            WARN("skipped: no /usr/bin/script (util-linux) to give hutch a terminal");
            return;
        }
    TestImage image = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/bb:1");
    // script gives hutch a terminal of the size stty sets; hutch's stdin is /dev/null without -i.
    std::string hutch = std::string(HUTCH_BINARY) + " --storage-root " + root.path() + "/storage --runroot " +
                        root.path() + "/run";
    auto sized = run_command({"timeout", "60", "script", "-qec",
                              "stty cols 123 rows 45; " + hutch + " run --rm -t localhost/bb:1 stty size",
                              "/dev/null"});
    INFO("stdout: " << sized.out << "\nstderr: " << sized.err);
    CHECK(sized.out.find("45 123") != std::string::npos);
    check_nothing_left(root);
}

TEST_CASE("hutch: an image's StopSignal that is no signal is refused at create; stop -t is checked",
          "[hutch-run]") {
    nlohmann::json config = kBusyboxConfig;
    config["StopSignal"] = "SIGNOPE";
    TestImage bad = busybox_image(config);
    TestImage good = busybox_image(kBusyboxConfig);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, bad, "localhost/bad:1");
    load_image(root, good, "localhost/bb:1");
    for (const char* verb : {"run", "create"}) {
        auto refused = hutch_cmd(root, {verb, "localhost/bad:1", "true"});
        check_one_line_failure(refused);
        CHECK(refused.err.find("StopSignal") != std::string::npos);
    }
    // Refused before any container was made.
    CHECK(hutch_cmd(root, {"ps", "-a", "--format", "json"}).out == "[]\n");

    // Ends a second after its stop signal, once its trap is set (before, pid 1 ignores SIGTERM).
    check_ok(hutch_cmd(root, {"run", "-d", "--name", "svc", "localhost/bb:1", "sh", "-c",
                              "trap 'sleep 1; exit 0' TERM; echo ready; while true; do sleep 0.1; done"}));
    REQUIRE(eventually([&] { return hutch_cmd(root, {"logs", "svc"}).out == "ready\n"; }));
    check_one_line_failure(hutch_cmd(root, {"stop", "-t", "-1", "svc"}));
    check_one_line_failure(hutch_cmd(root, {"stop", "-t", "lots", "svc"}));
    // 4294968 s is 704 ms more than 2^32 ms: a timeout cut to poll's int waited 704 ms, then
    // SIGKILL (137).
    check_ok(hutch_cmd(root, {"stop", "-t", "4294968", "svc"}));
    CHECK(inspect(root, "svc")["exitCode"] == 0);
    check_ok(hutch_cmd(root, {"rm", "svc"}));
    check_nothing_left(root);
}
