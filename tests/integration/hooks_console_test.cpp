// Hooks run in the runtime-spec's order with the state of each moment; the console socket gets
// a working pty master; the pid file holds the container's pid.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
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

}  // namespace

TEST_CASE("hooks run in order, each with the state of its moment", "[hooks]") {
    Runtime rt;
    Bundle bundle;
    TempDir logs;
    std::string log = logs.path() + "/hooks.log";
    bundle.set_args({"true"});
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
    std::vector<std::string> statuses = {"creating", "creating", "creating", "created", "running", "stopped"};
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
