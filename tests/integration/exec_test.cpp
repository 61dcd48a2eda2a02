// `exec`: a process added to a container joins its namespaces and cgroups, gets its security
// settings, and passes its exit status, terminal and pid through, as runc's does.
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "harness.h"

using namespace hutch::test;

namespace {

// A container of `sleep 1000`, started (or only created) by `run -d`. The runtime is declared
// after the bundle, so that the container is deleted before its rootfs is removed.
class Container {
public:
    explicit Container(const std::function<void(Bundle&)>& configure = {}, bool start = true) {
        bundle.set_args({"sleep", "1000"});
        bundle.config["hostname"] = "exec-test";
        if (configure) configure(bundle);
        bundle.save();
        auto r = start ? rt({"run", "--detach", "--bundle", bundle.path(), id})
                       : rt({"create", "--bundle", bundle.path(), id});
        if (r.status != 0) throw std::runtime_error("the container did not start: " + r.err);
    }
    CommandResult exec(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"exec"};
        argv.insert(argv.end(), args.begin(), args.end());
        return rt(argv);
    }
    // `exec FLAGS... ID ARGS...`
    CommandResult exec(const std::vector<std::string>& flags, const std::vector<std::string>& args) const {
        std::vector<std::string> argv = flags;
        argv.push_back(id);
        argv.insert(argv.end(), args.begin(), args.end());
        return exec(argv);
    }
    CommandResult sh(const std::string& script) const { return exec({id, "sh", "-c", script}); }
    pid_t pid() const { return rt.state(id).value("pid", 0); }

    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
};

std::string proc_link(pid_t pid, const std::string& name) {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/" + name, ec).string();
}

// The status line of /proc/PID/status named key ("CapEff"), without the key.
std::string status_field(const std::string& status_text, const std::string& key) {
    std::istringstream in(status_text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(key + ":")) return line.substr(line.find_first_not_of(" \t", key.size() + 1));
    return "";
}

pid_t read_pid_file(const std::string& path) {
    std::string text;
    eventually([&] { return !(text = read_text(path)).empty(); });
    return text.empty() ? 0 : std::stoi(text);
}

bool host_is_v2() { return shell("stat -fc %T /sys/fs/cgroup").out == "cgroup2fs\n"; }

}  // namespace

TEST_CASE("exec joins every namespace and the cgroups of the container", "[exec]") {
    Container c;
    std::string pid_file = c.bundle.path() + "/exec.pid";
    auto r = c.exec({"--detach", "--pid-file", pid_file}, {"sleep", "100"});
    REQUIRE(r.status == 0);
    pid_t pid = read_pid_file(pid_file);
    REQUIRE(pid > 0);
    pid_t init = c.pid();
    for (std::string ns : {"pid", "net", "ipc", "uts", "mnt", "cgroup"}) {
        INFO(ns);
        CHECK(proc_link(pid, "ns/" + ns) == proc_link(init, "ns/" + ns));
        CHECK(proc_link(pid, "ns/" + ns) != proc_link(::getpid(), "ns/" + ns));
    }
    CHECK(read_text("/proc/" + std::to_string(pid) + "/cgroup") ==
          read_text("/proc/" + std::to_string(init) + "/cgroup"));
    // Inside: the container's hostname, and a pid of the container's pid namespace.
    auto inside = c.sh("hostname; echo $$");
    REQUIRE(inside.status == 0);
    std::istringstream lines(inside.out);
    std::string hostname, inner_pid;
    std::getline(lines, hostname);
    std::getline(lines, inner_pid);
    CHECK(hostname == "exec-test");
    CHECK(std::stoi(inner_pid) > 1);
    CHECK(std::stoi(inner_pid) < 100);
}

TEST_CASE("exec passes the exit status through, 128+N for a signal", "[exec]") {
    Container c;
    CHECK(c.sh("exit 7").status == 7);
    CHECK(c.sh("kill -9 $$").status == 137);
    CHECK(c.exec({c.id, "true"}).status == 0);
    auto missing = c.exec({c.id, "no-such-program"});
    CHECK(missing.status != 0);
    CHECK(missing.err.find("no-such-program: executable file not found in $PATH") != std::string::npos);
}

TEST_CASE("exec applies runc's flags to the container's process", "[exec]") {
    Container c([](Bundle& b) { b.config["process"]["env"].push_back("FROM_CONFIG=kept"); });
    auto r = c.exec({"-e", "FOO=bar", "--env", "FROM_CONFIG=replaced", "--cwd", "/tmp", "-u", "1000:1001",
                     "--additional-gids", "2000"},
                    {"sh", "-c", "echo $FOO $FROM_CONFIG $TERM; pwd; id -u; id -g; id -G"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "bar replaced xterm\n/tmp\n1000\n1001\n1001 2000\n");
    auto bad_user = c.exec({"--user", "nobody"}, {"true"});
    CHECK(bad_user.status != 0);
    CHECK(bad_user.err.find("--user: expected UID[:GID] as numbers") != std::string::npos);
}

TEST_CASE("exec --process runs the process document as written", "[exec]") {
    Container c;
    std::string process = c.bundle.path() + "/process.json";
    std::ofstream(process) << R"({"args": ["sh", "-c", "echo $A; id -u; pwd"], "env": ["A=1"],
                                  "cwd": "/etc", "user": {"uid": 5, "gid": 5}})";
    auto r = c.exec({"--process", process}, {});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "1\n5\n/etc\n");

    std::ofstream(process, std::ios::trunc) << R"({"args": [], "cwd": "/"})";
    auto bad = c.exec({"--process", process}, {});
    CHECK(bad.status != 0);
    CHECK(bad.err.find("--process " + process + ": process.args: must not be empty") != std::string::npos);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
}

TEST_CASE("exec works from the config saved at create, not the bundle's current one", "[exec]") {
    Container c;
    c.bundle.config["process"]["env"].push_back("MARK=changed");
    c.bundle.save();
    auto r = c.sh("echo ${MARK:-unset}");
    REQUIRE(r.status == 0);
    CHECK(r.out == "unset\n");
}

TEST_CASE("exec gets the container's seccomp filter, capabilities and rlimits", "[exec]") {
    Container c([](Bundle& b) {
        b.config["process"]["noNewPrivileges"] = false;
        b.config["linux"]["seccomp"] = {
            {"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
        b.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 512}}};
    });
    auto r = c.sh("mkdir /tmp/x 2>/dev/null && echo made || echo refused; ulimit -n; cat /proc/self/status");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.starts_with("refused\n512\n"));
    std::string init_status = read_text("/proc/" + std::to_string(c.pid()) + "/status");
    CHECK(status_field(r.out, "CapEff") == status_field(init_status, "CapEff"));
    CHECK(status_field(r.out, "CapBnd") == status_field(init_status, "CapBnd"));
    CHECK(status_field(r.out, "NoNewPrivs") == "0");

    auto more = c.exec({"--cap", "CAP_SYS_ADMIN", "--no-new-privs"}, {"cat", "/proc/self/status"});
    REQUIRE(more.status == 0);
    uint64_t eff = std::stoull(status_field(more.out, "CapEff"), nullptr, 16);
    CHECK((eff >> 21 & 1) == 1);  // CAP_SYS_ADMIN
    CHECK(status_field(more.out, "NoNewPrivs") == "1");
    auto unknown = c.exec({"--cap", "CAP_NO_SUCH"}, {"true"});
    CHECK(unknown.status != 0);
    CHECK(unknown.err.find("unknown capability \"CAP_NO_SUCH\"") != std::string::npos);
}

TEST_CASE("exec --tty hands the terminal, owned by the process's user, to the console socket", "[exec]") {
    Container c;
    ConsoleSocket console;
    auto r = c.exec({"--tty", "--detach", "--console-socket", console.path(), "--user", "1000:1000"},
                    {"sh", "-c", "tty; stat -c owner=%u $(tty); test -t 0 && echo interactive; sleep 1"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    int master = console.receive_master();
    REQUIRE(master >= 0);
    std::string output = read_until(master, "interactive");
    ::close(master);
    CHECK(output.find("/dev/pts/") != std::string::npos);
    CHECK(output.find("owner=1000") != std::string::npos);
    CHECK(output.find("interactive") != std::string::npos);
    auto no_tty = c.exec({"--console-socket", console.path()}, {"true"});
    CHECK(no_tty.status != 0);
    CHECK(no_tty.err.find("--console-socket given but the process has no terminal") != std::string::npos);
}

TEST_CASE("exec --tty in the foreground gives the process the caller's terminal", "[exec]") {
    Container c;
    // script(1) runs hutch-oci on a pty of its own, as a person at a terminal would.
    auto r = run_command({"script", "-qec",
                          std::string(HUTCH_OCI_BINARY) + " --root " + c.rt.root() + " exec -t " + c.id +
                              " sh -c 'test -t 0 && echo interactive; exit 5'",
                          "/dev/null"});
    INFO(r.out << r.err);
    CHECK(r.status == 5);
    CHECK(r.out.find("interactive") != std::string::npos);
}

TEST_CASE("exec into a paused or stopped container fails clearly", "[exec]") {
    Container c;
    REQUIRE(c.rt({"pause", c.id}).status == 0);
    auto paused = c.exec({c.id, "true"});
    CHECK(paused.status != 0);
    CHECK(paused.err.find("cannot exec in container " + c.id + ": it is paused") != std::string::npos);
    REQUIRE(c.rt({"resume", c.id}).status == 0);
    REQUIRE(c.rt({"kill", c.id, "KILL"}).status == 0);
    REQUIRE(wait_for_status(c.rt, c.id, "stopped") == "stopped");
    auto stopped = c.exec({c.id, "true"});
    CHECK(stopped.status != 0);
    CHECK(stopped.err.find("cannot exec in container " + c.id + ": it is stopped") != std::string::npos);
    auto missing = c.rt({"exec", "no-such-container", "true"});
    CHECK(missing.status != 0);
    CHECK(missing.err.find("container no-such-container does not exist") != std::string::npos);
}

TEST_CASE("exec --cgroup runs the process in a sub-cgroup on cgroup v2", "[exec]") {
    Container c;
    if (!host_is_v2()) {
        auto refused = c.exec({"--cgroup", "sub"}, {"true"});
        CHECK(refused.status != 0);
        CHECK(refused.err.find("--cgroup sub: a sub-cgroup needs cgroup v2") != std::string::npos);
        WARN("skipped the v2 half: this host is not pure cgroup v2; tests/vm runs it in a guest");
        return;
    }
    std::string dir = "/sys/fs/cgroup" + read_text("/proc/" + std::to_string(c.pid()) + "/cgroup").substr(3);
    REQUIRE(std::filesystem::create_directory(dir + "/sub"));
    std::string pid_file = c.bundle.path() + "/exec.pid";
    auto r = c.exec({"--cgroup", "sub", "--detach", "--pid-file", pid_file}, {"sleep", "100"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    pid_t pid = read_pid_file(pid_file);
    CHECK(read_text("/proc/" + std::to_string(pid) + "/cgroup").ends_with("/sub"));
    auto outside = c.exec({"--cgroup", "../escape"}, {"true"});
    CHECK(outside.status != 0);
    CHECK(outside.err.find("expected a relative path below the container's cgroup") != std::string::npos);
}

TEST_CASE("exec joins a container's user namespace", "[exec]") {
    Container c([](Bundle& b) {
        b.config["linux"]["namespaces"].push_back({{"type", "user"}});
        b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
        b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    });
    auto r = c.sh("cat /proc/self/uid_map; id -u");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("100000") != std::string::npos);
    CHECK(r.out.ends_with("\n0\n"));
    CHECK(proc_link(c.pid(), "ns/user") != proc_link(::getpid(), "ns/user"));
}

TEST_CASE("exec: process.execCPUAffinity puts the runtime, then the process, on the CPUs asked", "[exec]") {
    cpu_set_t allowed;
    REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    if (!CPU_ISSET(0, &allowed) || !CPU_ISSET(1, &allowed)) {
        WARN("skipped: execCPUAffinity needs CPUs 0 and 1, and this host lets the test use fewer");
        return;
    }
    Container c;
    std::string process = c.bundle.path() + "/process.json";
    auto write_process = [&](const std::string& affinity) {
        std::ofstream(process, std::ios::trunc)
            << R"({"args": ["sh", "-c", "sed -n 's/^Cpus_allowed_list:/process/p' /proc/self/status; sleep 3"],
                   "cwd": "/", "execCPUAffinity": )"
            << affinity << "}";
    };
    // initial is hutch-oci's own (read while it waits for the process in the foreground, once the
    // process has printed); final is the process's once in the container's cgroup. Without final,
    // the kernel decides: a cpuset cgroup resets a moved process's CPUs, so nothing is asserted of
    // it then.
    write_process(R"({"initial": "1", "final": "0"})");
    std::string printed = c.bundle.path() + "/printed";
    auto r = shell(hutch_oci_command(c.rt) + " exec --process " + process + " " + c.id + " > " + printed +
                   " & for i in $(seq 3000); do grep -q process " + printed +
                   " && break; sleep 0.02; done; sed -n 's/^Cpus_allowed_list:/runtime/p' /proc/$!/status; "
                   "wait $!; cat " +
                   printed);
    INFO(r.err);
    CHECK(r.out.find("process\t0\n") != std::string::npos);
    CHECK(r.out.find("runtime\t1\n") != std::string::npos);
    // A CPU the host does not have: one line, naming the field.
    write_process(R"({"final": "1023"})");
    auto bad = c.exec({"--process", process}, {});
    CHECK(bad.status != 0);
    CHECK(bad.err.find("process.execCPUAffinity.final: sched_setaffinity: Invalid argument") !=
          std::string::npos);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
    CHECK(c.sh("true").status == 0);  // the container is still fine
}
