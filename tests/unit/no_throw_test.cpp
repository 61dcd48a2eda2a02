// What hutch-oci writes as JSON holds any bytes without throwing (base/json.h), and the code a
// cloned child runs lets no exception out of it (runtime/clone.h).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/json.h"
#include "base/log.h"
#include "namespaces/rootfs.h"
#include "runtime/clone.h"

using namespace hutch;

namespace {

const std::string kNotUtf8 = "bundle-\xff\xfe";
const std::string kReplaced = "bundle-\xef\xbf\xbd\xef\xbf\xbd";  // U+FFFD twice

std::string temp_file(const std::string& contents) {
    std::string path = "/tmp/hutch-unit-XXXXXX";
    int fd = mkstemp(path.data());
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
    close(fd);
    return path;
}

std::string contents_of(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("json_text replaces bytes that are not UTF-8 where dump() would throw", "[base]") {
    nlohmann::json j = {{"bundle", "/tmp/" + kNotUtf8}};
    CHECK_THROWS_AS(j.dump(), nlohmann::json::type_error);
    std::string text;
    REQUIRE_NOTHROW(text = json_text(j));
    CHECK(nlohmann::json::parse(text)["bundle"] == "/tmp/" + kReplaced);
    // ordered_json too (the runtime state), and indented as dump(2) is
    nlohmann::ordered_json state = {{"id", "box"}, {"bundle", kNotUtf8}};
    CHECK(json_text(state, 2) == "{\n  \"id\": \"box\",\n  \"bundle\": \"" + kReplaced + "\"\n}");
    // UTF-8 is left as it is
    nlohmann::json fine = {{"path", "/tmp/caf\xc3\xa9"}};
    CHECK(json_text(fine) == fine.dump());
}

TEST_CASE("the JSON log writes a message with bytes that are not UTF-8", "[base]") {
    std::string path = temp_file("");
    log::configure(path, log::Format::json, false);
    REQUIRE_NOTHROW(log::warn("hook output: " + kNotUtf8));
    log::configure("/dev/null", log::Format::text, false);  // later tests log nowhere
    std::string text = contents_of(path);
    unlink(path.c_str());
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    auto line = nlohmann::json::parse(text);
    CHECK(line["level"] == "warning");
    CHECK(line["msg"] == "hook output: " + kReplaced);
}

TEST_CASE("a cloned child's set-up turns an exception into its failure message", "[runtime]") {
    auto failed = []() -> ErrorOr<void> { return fail("mount /proc: EPERM"); };
    auto throws = []() -> ErrorOr<void> { throw std::runtime_error("boom"); };
    auto throws_other = []() -> ErrorOr<void> { throw 42; };
    STATIC_REQUIRE(noexcept(runtime::child_setup_failure(throws)));
    CHECK(runtime::child_setup_failure(failed) == "mount /proc: EPERM");
    CHECK(runtime::child_setup_failure(throws) == "internal error: boom");
    CHECK(runtime::child_setup_failure(throws_other) == "internal error");
}

TEST_CASE("mountinfo escapes are undone without throwing on ones the kernel never writes", "[rootfs]") {
    std::string path = temp_file(
        "36 35 98:0 / /mnt/two\\040words rw - ext4 /dev/sda1 rw\n"
        "37 35 98:0 / /mnt/odd\\9ab\\08x rw - tmpfs none\\134x rw\n");
    ErrorOr<std::vector<rootfs::MountInfo>> mounts = fail("not read");
    REQUIRE_NOTHROW(mounts = rootfs::read_mountinfo(path));
    unlink(path.c_str());
    REQUIRE(mounts);
    REQUIRE(mounts->size() == 2);
    CHECK((*mounts)[0].mount_point == "/mnt/two words");
    CHECK((*mounts)[1].mount_point == "/mnt/odd\\9ab\\08x");
    CHECK((*mounts)[1].source == "none\\x");
}
