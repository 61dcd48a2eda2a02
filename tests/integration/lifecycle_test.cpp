// The container lifecycle through the hutch-oci binary: create, start, state, kill, delete, run,
// with the state JSON checked at each step and nothing left behind afterwards.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "harness.h"

using namespace hutch::test;

namespace {

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

// `hutch-oci run` in the foreground, in a process of its own. If the test ends first, it is
// killed and reaped; the Runtime, declared before it, then removes what it left.
class ForegroundRun {
public:
    ForegroundRun(const Runtime& rt, const Bundle& bundle, const std::string& id) {
        std::vector<std::string> args = {HUTCH_OCI_BINARY, "--root",      rt.root(), "run",
                                         "--bundle",       bundle.path(), id};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    }
    ~ForegroundRun() {
        if (pid_ > 0 && ::kill(pid_, SIGKILL) == 0) ::waitpid(pid_, nullptr, 0);
    }
    ForegroundRun(const ForegroundRun&) = delete;
    ForegroundRun& operator=(const ForegroundRun&) = delete;

    pid_t pid() const { return pid_; }
    // Waits for it to exit and returns its wait status.
    int wait() {
        int status = 0;
        ::waitpid(std::exchange(pid_, -1), &status, 0);
        return status;
    }

private:
    pid_t pid_ = -1;
};

std::string file_contents(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("create, start, kill and delete walk through every status", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string id = unique_id();
    std::string pid_file = bundle.path() + "/pid";

    auto created = rt({"create", "--bundle", bundle.path(), "--pid-file", pid_file, id});
    REQUIRE(created.status == 0);
    auto state = rt.state(id);
    CHECK(state["status"] == "created");
    CHECK(state["id"] == id);
    CHECK(state["bundle"] == bundle.path());
    CHECK(state["rootfs"] == bundle.rootfs());
    CHECK(state["ociVersion"].get<std::string>().rfind("1.", 0) == 0);
    CHECK(state.contains("created"));
    CHECK(state.contains("owner"));
    pid_t pid = state["pid"].get<pid_t>();
    CHECK(pid > 0);
    CHECK(file_contents(pid_file) == std::to_string(pid));
    CHECK(process_alive(pid));
    // Before start the user's program has not run: the process is still hutch's.
    CHECK(file_contents("/proc/" + std::to_string(pid) + "/comm").find("sleep") == std::string::npos);

    REQUIRE(rt({"start", id}).status == 0);
    CHECK(rt.state(id)["status"] == "running");
    CHECK(file_contents("/proc/" + std::to_string(pid) + "/comm") == "sleep\n");
    CHECK(rt({"start", id}).status != 0);  // a running container cannot start again

    CHECK(rt({"delete", id}).status != 0);  // running: needs --force
    REQUIRE(rt({"kill", id, "KILL"}).status == 0);
    CHECK(wait_for_status(rt, id, "stopped") == "stopped");
    CHECK(rt.state(id)["pid"] == 0);
    CHECK(rt({"kill", id, "KILL"}).status != 0);  // stopped: nothing to signal

    REQUIRE(rt({"delete", id}).status == 0);
    CHECK(rt({"state", id}).status != 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
    CHECK_FALSE(process_alive(pid));
    CHECK(host_mounts_matching(bundle.path()).empty());
}

TEST_CASE("delete removes a created container that never started, killing its process", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.save();
    std::string id = unique_id();
    REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
    pid_t pid = rt.state(id)["pid"].get<pid_t>();
    REQUIRE(rt({"delete", id}).status == 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
    CHECK(eventually([&] { return !process_alive(pid); }));
}

TEST_CASE("run passes the exit status and output through and removes the container", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "echo out; echo err >&2; exit 7"});
    bundle.save();
    std::string id = unique_id();
    auto r = rt({"run", "--bundle", bundle.path(), id});
    CHECK(r.status == 7);
    CHECK(r.out == "out\n");
    CHECK(r.err.find("err") != std::string::npos);
    CHECK(rt({"state", id}).status != 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
}

TEST_CASE("run --keep leaves the stopped container for state and delete", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "exit 3"});
    bundle.save();
    std::string id = unique_id();
    CHECK(rt({"run", "--keep", "--bundle", bundle.path(), id}).status == 3);
    CHECK(rt.state(id).value("status", "") == "stopped");
    CHECK(rt({"delete", id}).status == 0);
    CHECK(rt({"state", id}).status != 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
}

TEST_CASE("run: the pid file and the setup hooks come before the process runs", "[lifecycle]") {
    // run starts its process as early as it safely can: never before the pid file is written or
    // before a createRuntime hook is done.
    Runtime rt;
    Bundle bundle;
    TempDir shared;
    bundle.config["mounts"].push_back({{"destination", "/shared"},
                                       {"type", "bind"},
                                       {"source", shared.path()},
                                       {"options", {"rbind", "rw"}}});
    bundle.config["hooks"]["createRuntime"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "sleep 0.2; touch " + shared.path() + "/hook-done"}}}};
    bundle.set_args(
        {"sh", "-c", "test -e /shared/hook-done && echo hook-first; cat /shared/pid; echo; echo $$"});
    bundle.save();
    auto r = rt({"run", "--bundle", bundle.path(), "--pid-file", shared.path() + "/pid", unique_id()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.starts_with("hook-first\n"));
    // The pid file holds the host's pid of the process; inside, it is 1 in its own pid namespace.
    CHECK(r.out.ends_with("\n1\n"));
    CHECK(r.out.find("\n\n") == std::string::npos);  // the pid file was not empty
}

TEST_CASE("run reports a process killed by a signal as 128+signal", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    // Without a pid namespace of its own: the init of a pid namespace cannot SIGKILL itself.
    auto& ns = bundle.config["linux"]["namespaces"];
    ns.erase(std::remove_if(ns.begin(), ns.end(), [](const auto& n) { return n["type"] == "pid"; }),
             ns.end());
    bundle.set_args({"sh", "-c", "kill -9 $$"});
    bundle.save();
    CHECK(rt({"run", "--bundle", bundle.path(), unique_id()}).status == 128 + SIGKILL);
}

TEST_CASE("run forwards signals to the container", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    // The marker says the trap is set: before it, pid 1 would ignore SIGTERM and never exit.
    bundle.set_args({"sh", "-c", "trap 'exit 42' TERM; touch /ready; while :; do sleep 0.05; done"});
    bundle.config["root"]["readonly"] = false;
    bundle.save();
    ForegroundRun runner(rt, bundle, unique_id());
    REQUIRE(runner.pid() > 0);
    REQUIRE(eventually([&] { return exists(bundle.rootfs() + "/ready"); }));
    ::kill(runner.pid(), SIGTERM);
    int status = runner.wait();
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("run leaves alone a container of the same id made after its own was deleted", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string id = unique_id();
    ForegroundRun runner(rt, bundle, id);
    REQUIRE(runner.pid() > 0);
    REQUIRE(wait_for_status(rt, id, "running") == "running");
    // The foreground run is stopped while another command deletes its container and makes a new
    // one of the same id: when it goes on, the directory it finds under that id is not its own.
    REQUIRE(::kill(runner.pid(), SIGSTOP) == 0);
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    pid_t second = rt.state(id)["pid"].get<pid_t>();
    REQUIRE(::kill(runner.pid(), SIGCONT) == 0);
    int status = runner.wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + SIGKILL);
    CHECK(rt.state(id)["status"] == "running");
    CHECK(process_alive(second));
    REQUIRE(rt({"delete", "--force", id}).status == 0);
}

TEST_CASE("run --detach leaves the container running; kill --all and list see it", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "sleep 1000 & sleep 1000"});
    bundle.save();
    std::string id = unique_id();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    CHECK(rt.state(id)["status"] == "running");

    auto list = rt({"list", "--format", "json"});
    REQUIRE(list.status == 0);
    auto containers = nlohmann::json::parse(list.out);
    REQUIRE(containers.size() == 1);
    CHECK(containers[0]["id"] == id);
    CHECK(containers[0]["status"] == "running");
    auto table = rt({"list"});
    CHECK(table.out.find("ID") == 0);
    CHECK(table.out.find(id) != std::string::npos);
    CHECK(rt({"list", "-q"}).out == id + "\n");

    REQUIRE(rt({"kill", "--all", id, "9"}).status == 0);
    CHECK(wait_for_status(rt, id, "stopped") == "stopped");
    REQUIRE(rt({"delete", id}).status == 0);
}

TEST_CASE("delete --force stops a running container and leaves nothing behind", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string id = unique_id();
    REQUIRE(rt({"run", "-d", "--bundle", bundle.path(), id}).status == 0);
    pid_t pid = rt.state(id)["pid"].get<pid_t>();
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
    CHECK_FALSE(process_alive(pid));
    CHECK(host_mounts_matching(bundle.path()).empty());
    CHECK(shell("find /sys/fs/cgroup -maxdepth 4 -name '" + id + "'").out.empty());
}

TEST_CASE("kill accepts signal names and numbers and refuses unknown ones", "[lifecycle]") {
    // pid 1 of a pid namespace ignores every signal it has no handler for: each trap writes down the
    // signal it got, so the log says which signal each kill delivered, and that it was delivered.
    Runtime rt;
    Bundle bundle;
    TempDir shared;
    bundle.config["mounts"].push_back({{"destination", "/shared"},
                                       {"type", "bind"},
                                       {"source", shared.path()},
                                       {"options", {"rbind", "rw"}}});
    bundle.set_args({"sh", "-c",
                     "for s in USR1 USR2 HUP; do trap \"echo $s >> /shared/got\" $s; done; "
                     "trap 'echo TERM >> /shared/got; exit 3' TERM; touch /shared/ready; "
                     "while :; do sleep 0.05; done"});
    bundle.save();
    std::string got = shared.path() + "/got";
    auto received = [&](const std::string& want) {
        eventually([&] { return file_contents(got) == want; });
        return file_contents(got);
    };
    std::string id = unique_id();
    REQUIRE(rt({"run", "-d", "--bundle", bundle.path(), id}).status == 0);
    REQUIRE(eventually([&] { return exists(shared.path() + "/ready"); }));  // the traps are set

    auto unknown = rt({"kill", id, "SIGNOPE"});
    CHECK(unknown.status != 0);
    CHECK(unknown.err.find("SIGNOPE") != std::string::npos);
    REQUIRE(rt({"kill", id, "SIGUSR1"}).status == 0);
    CHECK(received("USR1\n") == "USR1\n");
    REQUIRE(rt({"kill", id, "USR2"}).status == 0);
    CHECK(received("USR1\nUSR2\n") == "USR1\nUSR2\n");
    REQUIRE(rt({"kill", id, std::to_string(SIGHUP)}).status == 0);
    CHECK(received("USR1\nUSR2\nHUP\n") == "USR1\nUSR2\nHUP\n");
    CHECK(rt.state(id)["status"] == "running");
    REQUIRE(rt({"kill", id}).status == 0);  // SIGTERM, the default
    CHECK(wait_for_status(rt, id, "stopped") == "stopped");
    CHECK(file_contents(got) == "USR1\nUSR2\nHUP\nTERM\n");
    REQUIRE(rt({"delete", id}).status == 0);
}

TEST_CASE("errors are one line, name the problem and leave no state behind", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"no-such-program"});
    bundle.save();
    std::string id = unique_id();
    auto r = rt({"create", "--bundle", bundle.path(), id});
    CHECK(r.status != 0);
    CHECK(r.err.find("no-such-program") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(exists(rt.root() + "/" + id));
    CHECK(shell("find /sys/fs/cgroup -maxdepth 4 -name '" + id + "'").out.empty());

    std::ofstream(bundle.path() + "/config.json") << "{ not json";
    r = rt({"create", "--bundle", bundle.path(), id});
    CHECK(r.status != 0);
    CHECK(r.err.find("config.json") != std::string::npos);
    CHECK(rt({"state", "no-such-container"}).status != 0);
    CHECK(rt({"create", "--bundle", bundle.path(), "../escape"}).status != 0);
}

TEST_CASE("the JSON log is what containerd reads", "[lifecycle]") {
    Runtime rt;
    TempDir logs;
    std::string log = logs.path() + "/log.json";
    auto r = run_command(
        {HUTCH_OCI_BINARY, "--root", rt.root(), "--log", log, "--log-format", "json", "state", "nope"});
    CHECK(r.status != 0);
    auto line = nlohmann::json::parse(file_contents(log));
    CHECK(line["level"] == "error");
    CHECK(line["msg"].get<std::string>().find("nope") != std::string::npos);
    CHECK(line.contains("time"));
}

TEST_CASE("preserve-fds passes the caller's fds from 3 on, and only those", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "cat <&3; cat <&4 && echo fd4-open"});
    bundle.save();
    TempDir dir;
    std::ofstream(dir.path() + "/passed") << "through fd 3\n";
    std::string cmd = "exec 3<" + dir.path() + "/passed 4<" + dir.path() + "/passed; " + HUTCH_OCI_BINARY +
                      " --root " + rt.root() + " run --preserve-fds 1 --bundle " + bundle.path() + " " +
                      unique_id();
    auto r = shell(cmd);
    CHECK(r.out.rfind("through fd 3\n", 0) == 0);
    CHECK(r.out.find("fd4-open") == std::string::npos);  // fd 4 was not passed on
}

TEST_CASE("no-pivot runs the container with chroot", "[lifecycle]") {
    // With --no-pivot the rootfs is moved onto the host's "/" and chrooted into: the container's
    // "/" must still be its rootfs (a file of the rootfs there, a file of the host's "/" not), on
    // the rootfs's own mount, with the config's mounts on it and nothing of the host's.
    Runtime rt;
    Bundle bundle;
    std::string mark = "hutch-test-no-pivot-" + std::to_string(::getpid());
    std::ofstream(bundle.rootfs() + "/" + mark + "-rootfs") << "rootfs";
    struct HostMark {
        std::string path;
        ~HostMark() { std::filesystem::remove(path); }
    } host_mark{"/" + mark + "-host"};
    std::ofstream(host_mark.path) << "host";
    REQUIRE(exists(host_mark.path));
    bundle.set_args({"sh", "-c",
                     "ls / | grep " + mark +
                         "; grep -c . /proc/self/mountinfo; "
                         "awk '{print $4, $5}' /proc/self/mountinfo"});
    bundle.save();
    auto r = rt({"run", "--no-pivot", "--bundle", bundle.path(), unique_id()});
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    std::istringstream out(r.out);
    std::string seen, count;
    std::getline(out, seen);
    std::getline(out, count);
    CHECK(seen == mark + "-rootfs");  // and not -host: the only file of the two at "/"
    // One mount at "/", the rootfs (its path in its filesystem ends the bundle's path); each of the
    // others is one the config asked for, a masked or read-only path, or a cgroup under them.
    const std::vector<std::string> allowed = {"/proc", "/dev", "/sys"};
    int mounts = 0, roots = 0;
    for (std::string line; std::getline(out, line); ++mounts) {
        INFO(line);
        std::string root = line.substr(0, line.find(' ')), point = line.substr(line.find(' ') + 1);
        if (point == "/") {
            ++roots;
            CHECK(bundle.rootfs().ends_with(root));
            continue;
        }
        CHECK(std::any_of(allowed.begin(), allowed.end(), [&](const std::string& top) {
            return point == top || point.starts_with(top + "/");
        }));
    }
    CHECK(roots == 1);
    CHECK(std::to_string(mounts) == count);
    CHECK(host_mounts_matching(bundle.path()).empty());
}

TEST_CASE("the process gets the config's cwd, env, umask and oom score", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "pwd; echo $GREETING; umask; cat /proc/self/oom_score_adj"});
    bundle.config["process"]["cwd"] = "/tmp";
    bundle.config["process"]["env"].push_back("GREETING=hello");
    bundle.config["process"]["user"]["umask"] = 077;
    bundle.config["process"]["oomScoreAdj"] = 500;
    bundle.save();
    auto r = rt({"run", "--bundle", bundle.path(), unique_id()});
    REQUIRE(r.status == 0);
    CHECK(r.out == "/tmp\nhello\n0077\n500\n");
}

TEST_CASE("delete --force removes what a crash during create leaves behind", "[lifecycle]") {
    Runtime rt;
    std::string id = unique_id();
    std::filesystem::create_directories(rt.root() + "/" + id);
    SECTION("a directory without state.json") {}
    SECTION("a torn state.json") {
        std::ofstream(rt.root() + "/" + id + "/state.json") << "{\"id\": \"" << id;
    }
    CHECK(rt({"state", id}).status != 0);
    CHECK(rt({"delete", id}).status != 0);  // without --force the damage is reported, not hidden
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    CHECK_FALSE(exists(rt.root() + "/" + id));
}

// containerd passes --root ROOT/<namespace> and dockerd EXEC_ROOT/runtime-runc/moby, whose parents
// nobody made; runc makes them, and so does hutch-oci. A relative --pid-file is relative to the
// caller's directory, not to the bundle that create changes to.
TEST_CASE("create makes --root with its parents and takes --pid-file from the caller's cwd", "[lifecycle]") {
    TempDir top;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string root = top.path() + "/runtime-runc/moby";
    std::string id = unique_id();
    auto r = run_command({"sh", "-c",
                          "cd " + top.path() + " && " + HUTCH_OCI_BINARY + " --root " + root +
                              " create --pid-file relative.pid --bundle " + bundle.path() + " " + id});
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto deleted = run_command({HUTCH_OCI_BINARY, "--root", root, "delete", "--force", id});
    CHECK(deleted.status == 0);
    CHECK(exists(top.path() + "/relative.pid"));
    CHECK_FALSE(exists(bundle.path() + "/relative.pid"));
}

TEST_CASE("delete --force of a container that does not exist succeeds; kill takes signal 0", "[lifecycle]") {
    Runtime rt;
    CHECK(rt({"delete", "--force", "never-created"}).status == 0);
    auto plain = rt({"delete", "never-created"});
    CHECK(plain.status != 0);
    CHECK(plain.err.find("container never-created does not exist") != std::string::npos);
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string id = unique_id();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    CHECK(rt({"kill", id, "0"}).status == 0);
    CHECK(rt.state(id)["status"] == "running");
    REQUIRE(rt({"kill", id, "KILL"}).status == 0);
    REQUIRE(wait_for_status(rt, id, "stopped") == "stopped");
    auto gone = rt({"kill", id, "0"});
    CHECK(gone.status != 0);
}

// A command that waited for the container's lock acts on the directory it locked, not on
// whatever ROOT/ID names by then: here the directory moves away while `kill` waits, and a new
// container takes the id. The kill must reach the first container, never the new one.
namespace {

// flock on a directory, released when it goes out of scope (a failed REQUIRE included).
struct DirectoryLock {
    int fd;
    explicit DirectoryLock(const std::string& dir)
        : fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (fd >= 0) ::flock(fd, LOCK_EX);
    }
    ~DirectoryLock() { release(); }
    void release() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    // Whether another process waits for this lock: /proc/locks lists a blocked request as
    // "N: -> FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE 0 EOF" (major and minor in hex).
    bool has_waiter() const {
        struct stat st {};
        if (::fstat(fd, &st) != 0) return false;
        char id[64];
        std::snprintf(id, sizeof id, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                      static_cast<unsigned long>(st.st_ino));
        std::ifstream locks("/proc/locks");
        for (std::string line; std::getline(locks, line);)
            if (line.find("->") != std::string::npos &&
                line.find(std::string(" ") + id + " ") != std::string::npos)
                return true;
        return false;
    }
};

}  // namespace

TEST_CASE("a command waiting for the lock never acts on a container re-created at its path", "[lifecycle]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    std::string id = unique_id();
    bundle.config["linux"]["cgroupsPath"] = "/" + id + "-first";
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    pid_t first = rt.state(id)["pid"].get<pid_t>();

    pid_t killer = -1;
    {
        DirectoryLock lock(rt.root() + "/" + id);
        REQUIRE(lock.fd >= 0);
        std::string argv = std::string(HUTCH_OCI_BINARY) + " --root " + rt.root() + " kill " + id + " KILL";
        killer = ::fork();
        if (killer == 0) {
            ::execl("/bin/sh", "sh", "-c", argv.c_str(), nullptr);
            _exit(127);
        }
        // Until kill waits for the lock (not a fixed time: a loaded machine may take seconds).
        REQUIRE(eventually([&] { return lock.has_waiter(); }));
        REQUIRE(::rename((rt.root() + "/" + id).c_str(), (rt.root() + "/" + id + ".moved").c_str()) == 0);
        bundle.config["linux"]["cgroupsPath"] = "/" + id + "-second";
        bundle.save();
        auto second_run = rt({"run", "--detach", "--bundle", bundle.path(), id});
        INFO(second_run.err);
        REQUIRE(second_run.status == 0);
    }  // the lock goes: kill takes it
    pid_t second = rt.state(id)["pid"].get<pid_t>();
    int status = -1;
    ::waitpid(killer, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(eventually([&] { return !process_alive(first); }));
    CHECK(process_alive(second));
    CHECK(rt.state(id)["status"] == "running");
    CHECK(rt({"delete", "--force", id + ".moved"}).status == 0);
}
