// Hooks run in the runtime-spec's order with the state of each moment; the console socket gets
// a working pty master; the pid file holds the container's pid.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

using namespace hutch::test;

namespace {

// A hook that appends "KIND <state json>" to a log file.
nlohmann::json logging_hook(const std::string& kind, const std::string& log) {
    return {{"path", "/bin/sh"}, {"args", {"sh", "-c", "s=$(cat); echo \"" + kind + " $s\" >> " + log}}};
}

std::vector<std::pair<std::string, nlohmann::json>> read_hook_log(const std::string& path) {
    std::vector<std::pair<std::string, nlohmann::json>> entries;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        auto space = line.find(' ');
        entries.emplace_back(line.substr(0, space), nlohmann::json::parse(line.substr(space + 1)));
    }
    return entries;
}

// A hook that runs a shell command line.
nlohmann::json shell_hook(const std::string& command_line) {
    return {{"path", "/bin/sh"}, {"args", {"sh", "-c", command_line}}};
}

// Mounts dir at /hooklog in the container, where startContainer hooks (which run inside) write.
void bind_hook_log(Bundle& bundle, const std::string& dir) {
    bundle.config["mounts"].push_back(
        {{"destination", "/hooklog"}, {"type", "bind"}, {"source", dir}, {"options", {"rbind", "rw"}}});
}

// hutch-oci with one more variable in its environment, to see whether hooks get it.
CommandResult run_with_marker(const Runtime& rt, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "HUTCH_TEST_MARKER=from-the-caller", HUTCH_OCI_BINARY, "--root",
                                     rt.root()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

// The entries of a file of NUL-terminated strings, such as /proc/PID/environ.
std::vector<std::string> read_nul_separated(const std::string& path) {
    std::vector<std::string> entries;
    std::ifstream in(path);
    for (std::string entry; std::getline(in, entry, '\0');) entries.push_back(entry);
    return entries;
}

nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str(), nullptr, false);
}

}  // namespace

TEST_CASE("hooks run in order, each with the state of its moment", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir logs;
    std::string log = logs.path() + "/hooks.log";
    // A process that outlives poststart, which sees it "running" (`true` could be gone by then).
    bundle.set_args({"sleep", "30"});
    // startContainer runs inside the container: it sees the log directory through a bind mount.
    bundle.config["mounts"].push_back({{"destination", "/hooklog"},
                                       {"type", "bind"},
                                       {"source", logs.path()},
                                       {"options", {"rbind", "rw"}}});
    auto& hooks = bundle.config["hooks"];
    for (std::string kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"})
        hooks[kind] = {logging_hook(kind, log)};
    hooks["startContainer"] = {logging_hook("startContainer", "/hooklog/hooks.log")};
    bundle.save();
    std::string id = unique_id();

    REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
    int pid = rt.state(id)["pid"].get<int>();
    REQUIRE(rt({"start", id}).status == 0);
    REQUIRE(rt({"delete", "--force", id}).status == 0);

    auto entries = read_hook_log(log);
    std::vector<std::string> order;
    for (auto& [kind, state] : entries) order.push_back(kind);
    CHECK(order == std::vector<std::string>{"prestart", "createRuntime", "createContainer", "startContainer",
                                            "poststart", "poststop"});
    REQUIRE(entries.size() == 6);
    // Up to startContainer the container is "created" as far as a hook can tell, as crun says.
    std::vector<std::string> statuses = {"created", "created", "created", "created", "running", "stopped"};
    for (size_t i = 0; i < entries.size(); ++i) {
        INFO(entries[i].first);
        CHECK(entries[i].second["status"] == statuses[i]);
        CHECK(entries[i].second["id"] == id);
        CHECK(entries[i].second["bundle"] == bundle.path());
        if (i < 5) CHECK(entries[i].second["pid"] == pid);
    }
}

TEST_CASE("a failing createRuntime hook fails create and leaves nothing behind", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.config["hooks"]["createRuntime"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo broken >&2; exit 3"}}}};
    bundle.save();
    std::string id = unique_id();
    auto r = rt({"create", "--bundle", bundle.path(), id});
    CHECK(r.status != 0);
    CHECK(r.err.find("createRuntime hook") != std::string::npos);
    CHECK(r.err.find("exit status 3") != std::string::npos);
    CHECK(r.err.find("broken") != std::string::npos);
    CHECK(rt({"state", id}).status != 0);
    CHECK(shell("find /sys/fs/cgroup -maxdepth 4 -name '" + id + "'").out.empty());
}

TEST_CASE("run reports a failing startContainer hook and leaves nothing behind", "[hooks]") {
    // `run` starts its container over the sync channel, not exec.fifo: the failure must come back
    // that way, and no fifo may ever appear.
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.config["hooks"]["startContainer"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo refused >&2; exit 4"}}}};
    bundle.save();
    std::string id = unique_id();
    auto r = rt({"run", "--bundle", bundle.path(), id});
    CHECK(r.status != 0);
    CHECK(r.err.find("startContainer hook") != std::string::npos);
    CHECK(r.err.find("exit status 4") != std::string::npos);
    CHECK(r.err.find("refused") != std::string::npos);
    CHECK(rt({"state", id}).status != 0);
    CHECK_FALSE(std::filesystem::exists(rt.root() + "/" + id));
    CHECK(shell("find /sys/fs/cgroup -maxdepth 4 -name '" + id + "'").out.empty());
}

TEST_CASE("a hook that outlives its timeout is killed and fails the operation", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    bundle.config["hooks"]["prestart"] = {
        {{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}};
    bundle.save();
    auto r = rt({"create", "--bundle", bundle.path(), unique_id()});
    CHECK(r.status != 0);
    CHECK(r.err.find("timed out") != std::string::npos);
}

TEST_CASE("poststart hooks run once the process runs, in start and in run", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir out;
    bundle.set_args({"sleep", "30"});
    // The state's pid, read from the JSON (hutch writes it without spaces), names the process whose
    // command line the hook copies: the program once it has exec'd, hutch-oci's before.
    bundle.config["hooks"]["poststart"] = {
        shell_hook("s=$(cat); printf '%s' \"$s\" > " + out.path() +
                   "/state.json; pid=$(printf '%s' \"$s\" | sed -n "
                   "'s/.*\"pid\":\\([0-9]*\\).*/\\1/p'); tr '\\0' ' ' < /proc/$pid/cmdline > " +
                   out.path() + "/cmdline")};
    bundle.save();
    std::string id = unique_id();

    SECTION("create, then start") {
        REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
        CHECK_FALSE(path_exists(out.path() + "/state.json"));
        REQUIRE(rt({"start", id}).status == 0);
    }
    SECTION("run") { REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0); }

    auto state = read_json(out.path() + "/state.json");
    CHECK(state["status"] == "running");
    CHECK(state["pid"] == rt.state(id)["pid"]);
    CHECK(read_text(out.path() + "/cmdline") == "sleep 30");
    REQUIRE(rt({"delete", "--force", id}).status == 0);
}

TEST_CASE("a failing poststart or poststop hook is a warning, and the next hooks still run", "[hooks]") {
    TempDir out;
    std::string log = out.path() + "/hutch.log";
    Runtime rt({"--log", log});
    Bundle bundle;
    bundle.set_args({"sleep", "30"});
    auto& hooks = bundle.config["hooks"];
    hooks["poststart"] = {shell_hook("echo no good >&2; exit 1"),
                          shell_hook("touch " + out.path() + "/poststart")};
    hooks["poststop"] = {shell_hook("exit 1"), shell_hook("touch " + out.path() + "/poststop")};
    bundle.save();
    std::string id = unique_id();

    REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
    CHECK(rt({"start", id}).status == 0);
    CHECK(path_exists(out.path() + "/poststart"));
    CHECK(rt.state(id)["status"] == "running");
    CHECK(rt({"delete", "--force", id}).status == 0);
    CHECK(path_exists(out.path() + "/poststop"));
    CHECK_FALSE(path_exists(rt.root() + "/" + id));
    // Each failure is a warning in the log, naming the hook.
    auto warned = [&](const std::string& message) {
        std::ifstream in(log);
        for (std::string line; std::getline(in, line);)
            if (line.find("level=warning") != std::string::npos && line.find(message) != std::string::npos)
                return true;
        return false;
    };
    INFO(read_text(log));
    CHECK(warned("poststart hook /bin/sh: exit status 1: no good"));
    CHECK(warned("poststop hook /bin/sh: exit status 1"));
}

TEST_CASE("a hook's timeout is its whole run, however often it writes", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"true"});
    // A line every 0.3 s for a minute: as good as for ever against a timeout of 1 s, and the test
    // fails rather than hangs on a runtime that restarts the timeout at each line.
    auto hook = shell_hook("i=0; while [ $i -lt 200 ]; do echo tick; sleep 0.3; i=$((i+1)); done");
    hook["timeout"] = 1;
    bundle.config["hooks"]["prestart"] = {hook};
    bundle.save();
    std::string id = unique_id();

    auto began = std::chrono::steady_clock::now();
    auto r = rt({"create", "--bundle", bundle.path(), id});
    auto took = std::chrono::steady_clock::now() - began;
    INFO(r.err);
    CHECK(r.status != 0);
    CHECK(took < std::chrono::seconds(20));
    CHECK(r.err.find("prestart hook /bin/sh: timed out after 1s") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(rt({"state", id}).status != 0);
}

TEST_CASE("hooks run in the bundle with exactly their env, or as runc without one", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir out;
    bundle.set_args({"true"});
    bind_hook_log(bundle, out.path());
    // Each hook writes its environment as execve() gave it (first: a shell may exec its last
    // command in its own process, with the variables it exports) and its working directory.
    auto probe = [](const std::string& dir, const std::string& name) {
        return shell_hook("cat /proc/$$/environ > " + dir + "/" + name + ".env; pwd > " + dir + "/" + name +
                          ".cwd");
    };
    auto& hooks = bundle.config["hooks"];
    hooks["prestart"] = {probe(out.path(), "prestart")};
    hooks["prestart"][0]["env"] = {"HOOK_VAR=1", "OTHER=two words"};
    hooks["poststart"] = {probe(out.path(), "poststart")};
    hooks["poststart"][0]["env"] = nlohmann::json::array();
    hooks["poststop"] = {probe(out.path(), "poststop")};
    hooks["startContainer"] = {probe("/hooklog", "startContainer")};
    bundle.save();
    std::string id = unique_id();

    // Run from elsewhere than the bundle, which create changes to but start and delete do not.
    REQUIRE(run_with_marker(rt, {"create", "--bundle", bundle.path(), id}).status == 0);
    REQUIRE(run_with_marker(rt, {"start", id}).status == 0);
    REQUIRE(run_with_marker(rt, {"delete", "--force", id}).status == 0);

    for (std::string hook : {"prestart", "poststart", "poststop"}) {
        INFO(hook);
        CHECK(read_text(out.path() + "/" + hook + ".cwd") == bundle.path());
    }
    // With an env, exactly it, even an empty one: nothing of hutch-oci's own.
    CHECK(read_nul_separated(out.path() + "/prestart.env") ==
          std::vector<std::string>{"HOOK_VAR=1", "OTHER=two words"});
    CHECK(read_nul_separated(out.path() + "/poststart.env").empty());
    // Without one, as runc (Go's exec with a nil Env) and crun (environ): the runtime's own on the
    // host, and inside the container the process's, never the host's.
    auto poststop_env = read_nul_separated(out.path() + "/poststop.env");
    CHECK(std::ranges::count(poststop_env, "HUTCH_TEST_MARKER=from-the-caller") == 1);
    auto container_env = read_nul_separated(out.path() + "/startContainer.env");
    std::vector<std::string> process_env = bundle.config["process"]["env"];
    CHECK(container_env == process_env);
}

TEST_CASE("a state larger than a pipe's buffer reaches every hook whole", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir out;
    bundle.set_args({"true"});
    bind_hook_log(bundle, out.path());
    // 80 KiB of annotations: more than a pipe's 64 KiB and than the sync channel's packets.
    for (int i = 0; i < 40; ++i)
        bundle.config["annotations"]["org.hutch.test.big-" + std::to_string(i)] =
            std::string(2048, static_cast<char>('a' + i % 26));
    auto& hooks = bundle.config["hooks"];
    for (std::string kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"})
        hooks[kind] = {shell_hook("cat > " + out.path() + "/" + kind + ".json")};
    // Given the state over the sync channel, as createContainer is.
    hooks["startContainer"] = {shell_hook("cat > /hooklog/startContainer.json")};
    bundle.save();
    std::string id = unique_id();

    // Bounded: a runtime that writes the whole state before the hook reads blocks for ever, and
    // should fail here, not hang (its delete would block the same way, until ctest's timeout).
    auto created = run_command(
        {"timeout", "120", HUTCH_OCI_BINARY, "--root", rt.root(), "create", "--bundle", bundle.path(), id});
    INFO(created.err);
    REQUIRE(created.status == 0);
    REQUIRE(rt({"start", id}).status == 0);
    REQUIRE(rt({"delete", "--force", id}).status == 0);

    for (std::string kind :
         {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
        INFO(kind);
        auto state = read_json(out.path() + "/" + kind + ".json");
        REQUIRE(state.is_object());
        CHECK(state["id"] == id);
        CHECK(state["annotations"] == bundle.config["annotations"]);
    }
}

TEST_CASE("startContainer hooks run as the process's user", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir out;
    ::chmod(out.path().c_str(), 0777);  // written by uid 1000
    bundle.set_args({"true"});
    bundle.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    bind_hook_log(bundle, out.path());
    bundle.config["hooks"]["startContainer"] = {shell_hook("id -u > /hooklog/uid; id -g > /hooklog/gid")};
    bundle.save();
    std::string id = unique_id();

    REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
    REQUIRE(rt({"start", id}).status == 0);
    CHECK(read_text(out.path() + "/uid") == "1000");
    CHECK(read_text(out.path() + "/gid") == "1000");
    REQUIRE(rt({"delete", "--force", id}).status == 0);
}

TEST_CASE("the console socket receives a pty master that is the container's terminal", "[console]") {
    Runtime rt;
    Bundle bundle;
    ConsoleSocket console;
    bundle.config["process"]["args"] = {"sh", "-c", "tty; test -t 0 && echo interactive"};
    bundle.config["process"]["terminal"] = true;
    bundle.save();

    std::string id = unique_id();
    auto r = rt({"create", "--bundle", bundle.path(), "--console-socket", console.path(), id});
    REQUIRE(r.status == 0);
    int master = console.receive_master();
    REQUIRE(master >= 0);
    REQUIRE(rt({"start", id}).status == 0);
    std::string output = read_until(master, "interactive");
    ::close(master);
    CHECK(output.find("/dev/pts/0") != std::string::npos);
    CHECK(output.find("interactive") != std::string::npos);
    REQUIRE(rt({"delete", "--force", id}).status == 0);
}

TEST_CASE("a terminal without a console socket is refused by create", "[console]") {
    Runtime rt;
    Bundle bundle;
    bundle.config["process"]["terminal"] = true;
    bundle.save();
    auto r = rt({"create", "--bundle", bundle.path(), unique_id()});
    CHECK(r.status != 0);
    CHECK(r.err.find("console-socket") != std::string::npos);
}

TEST_CASE("run without a console socket gives the container the caller's terminal", "[console]") {
    Runtime rt;
    Bundle bundle;
    bundle.config["process"]["args"] = {"sh", "-c", "tty; test -t 0 && echo interactive"};
    bundle.config["process"]["terminal"] = true;
    bundle.save();
    // script(1) runs hutch-oci on a pty of its own, as a person at a terminal would.
    auto r = run_command({"script", "-qec",
                          std::string(HUTCH_OCI_BINARY) + " --root " + rt.root() + " run --bundle " +
                              bundle.path() + " " + unique_id(),
                          "/dev/null"});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("/dev/pts/0") != std::string::npos);
    CHECK(r.out.find("interactive") != std::string::npos);
}
