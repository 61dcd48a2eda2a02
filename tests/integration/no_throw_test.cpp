// Bytes that are not UTF-8 where hutch-oci writes JSON (a bundle's path in the state, the list,
// the state given to hooks and the log; a container id in an error), exec's arguments, and an
// exception: each ends in valid JSON or in one line of error with status 1, never in the abort
// of std::terminate (status 134), which is what a JSON dump() of such bytes used to cause.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

using namespace hutch::test;

namespace {

const std::string kNotUtf8 = "\xff\xfe";
const std::string kReplaced = "\xef\xbf\xbd\xef\xbf\xbd";  // U+FFFD for each byte

std::string contents_of(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The lines of a --log-format json log, each checked to be JSON.
std::vector<nlohmann::json> log_lines(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        INFO("log line: " << line);
        REQUIRE(nlohmann::json::accept(line));
        lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
}

size_t count_lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A bundle in a directory named bundle-\xff\xfe, with its own copy of the rootfs; a
// createRuntime hook saves the state it is given to hook_state.
std::string make_odd_bundle(const std::string& parent, const std::string& hook_state) {
    std::string bundle = parent + "/bundle-" + kNotUtf8;
    REQUIRE(mkdir(bundle.c_str(), 0755) == 0);
    REQUIRE(run_command({"cp", "-a", busybox_rootfs(), bundle + "/rootfs"}).status == 0);
    REQUIRE(run_command({HUTCH_OCI_BINARY, "spec", "--bundle", bundle}).status == 0);
    auto config = nlohmann::json::parse(contents_of(bundle + "/config.json"));
    config["process"]["args"] = {"sleep", "1000"};
    config["process"]["terminal"] = false;
    config["hooks"]["createRuntime"] = {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + hook_state}}}};
    std::ofstream(bundle + "/config.json", std::ios::trunc) << config.dump(2);
    return bundle;
}

}  // namespace

TEST_CASE("a bundle path that is not UTF-8: create, state, list and delete write valid JSON", "[no-throw]") {
    TempDir dir;  // before the runtime, which deletes the container before the bundle goes
    std::string log = dir.path() + "/log.json";
    std::string hook_state = dir.path() + "/hook-state.json";
    std::string bundle = make_odd_bundle(dir.path(), hook_state);
    std::string shown = "/bundle-" + kReplaced;
    Runtime rt({"--log", log, "--log-format", "json", "--debug"});

    auto created = rt({"create", "--bundle", bundle, "odd"});
    INFO("create: " << created.err);
    REQUIRE(created.status == 0);

    auto state = rt({"state", "odd"});
    REQUIRE(state.status == 0);
    REQUIRE(nlohmann::json::accept(state.out));
    auto s = nlohmann::json::parse(state.out);
    CHECK(s["status"] == "created");
    CHECK(s["bundle"].get<std::string>().ends_with(shown));
    CHECK(s["rootfs"].get<std::string>().ends_with(shown + "/rootfs"));

    auto listed = rt({"list", "--format", "json"});
    REQUIRE(listed.status == 0);
    REQUIRE(nlohmann::json::accept(listed.out));
    auto list = nlohmann::json::parse(listed.out);
    REQUIRE(list.size() == 1);
    CHECK(list[0]["bundle"].get<std::string>().ends_with(shown));
    CHECK(rt({"list"}).status == 0);

    // The state the createRuntime hook read on its stdin.
    std::string given = contents_of(hook_state);
    REQUIRE(nlohmann::json::accept(given));
    CHECK(nlohmann::json::parse(given)["bundle"].get<std::string>().ends_with(shown));

    auto deleted = rt({"delete", "--force", "odd"});
    INFO("delete: " << deleted.err);
    CHECK(deleted.status == 0);
    CHECK(rt({"state", "odd"}).status != 0);
    CHECK(log_lines(log).size() > 0);
}

TEST_CASE("a log message with bytes that are not UTF-8 is written as JSON", "[no-throw]") {
    TempDir dir;
    std::string log = dir.path() + "/log.json";
    Runtime rt({"--log", log, "--log-format", "json"});
    auto r = rt({"state", "nope-" + kNotUtf8});
    CHECK(r.status == 1);
    CHECK(count_lines(r.err) == 1);
    auto lines = log_lines(log);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["level"] == "error");
    CHECK(lines[0]["msg"].get<std::string>().find("nope-" + kReplaced) != std::string::npos);
}

TEST_CASE("exec passes arguments, --env and --cwd that are not UTF-8 through unchanged, as runc does",
          "[no-throw]") {
    Bundle bundle;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::filesystem::create_directories(bundle.rootfs() + "/tmp/d" + kNotUtf8);
    Runtime rt;
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), "box"}).status == 0);
    auto r = rt({"exec", "--env", "V=v" + kNotUtf8, "--cwd", "/tmp/d" + kNotUtf8, "box", "sh", "-c",
                 "printf '%s|%s|%s' \"$1\" \"$V\" \"$PWD\"", "sh", "x" + kNotUtf8});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "x" + kNotUtf8 + "|v" + kNotUtf8 + "|/tmp/d" + kNotUtf8);
}

TEST_CASE("an exception ends hutch-oci with one line of error and status 1", "[no-throw]") {
#if defined(__SANITIZE_ADDRESS__)
    WARN("skipped: AddressSanitizer cannot run under the address-space limit this test sets");
    return;
#endif
    // A config.json without end, read under a 256 MiB address-space limit: std::bad_alloc.
    TempDir dir;
    Runtime rt;
    std::string log = dir.path() + "/log.json";
    REQUIRE(mkdir((dir.path() + "/bundle").c_str(), 0755) == 0);
    REQUIRE(symlink("/dev/zero", (dir.path() + "/bundle/config.json").c_str()) == 0);
    auto r = shell("ulimit -v 262144 && exec '" + std::string(HUTCH_OCI_BINARY) + "' --root '" + rt.root() +
                   "' --log '" + log + "' --log-format json create --bundle '" + dir.path() + "/bundle' box");
    INFO("stderr: " << r.err);
    CHECK(r.status == 1);
    CHECK(r.err.starts_with("hutch-oci: internal error: "));
    CHECK(r.err.find("bad_alloc") != std::string::npos);
    CHECK(count_lines(r.err) == 1);
    auto lines = log_lines(log);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["level"] == "error");
    CHECK(lines[0]["msg"].get<std::string>().starts_with("hutch-oci: internal error: "));
    CHECK(rt({"state", "box"}).status != 0);  // nothing was left behind
}
