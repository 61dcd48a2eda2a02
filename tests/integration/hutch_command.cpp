#include "hutch_command.h"

#include <sys/mount.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

namespace hutch::test {

CommandResult hutch_cmd(const TempDir& root, std::vector<std::string> args, const std::string& stdin_data) {
    args.insert(args.begin(), {HUTCH_BINARY, "--storage-root", root.path() + "/storage", "--runroot",
                               root.path() + "/run"});
    return run_command(args, stdin_data);
}

void check_ok(const CommandResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
}

void check_one_line_failure(const CommandResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.status == 125);
    REQUIRE_FALSE(r.err.empty());
    CHECK(r.err.back() == '\n');
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.starts_with("hutch: "));
}

nlohmann::json inspect(const TempDir& root, const std::string& name) {
    auto shown = hutch_cmd(root, {"inspect", name});
    check_ok(shown);
    auto parsed = nlohmann::json::parse(shown.out, nullptr, false);
    REQUIRE((parsed.is_array() && parsed.size() == 1));
    return parsed[0];
}

nlohmann::json images_json(const TempDir& root) {
    auto listed = hutch_cmd(root, {"images", "--format", "json"});
    check_ok(listed);
    auto parsed = nlohmann::json::parse(listed.out, nullptr, false);
    REQUIRE(parsed.is_array());
    return parsed;
}

TestImage busybox_image(const nlohmann::json& run_config) {
    auto tar = run_command({"tar", "-C", busybox_rootfs(), "--numeric-owner", "-cf", "-", "."});
    REQUIRE(tar.status == 0);
    return TestImage(tar.out, run_config);
}

ContainerSweeper::~ContainerSweeper() {
    auto listed = hutch_cmd(root_, {"ps", "-a", "--format", "json"});
    auto containers = nlohmann::json::parse(listed.out, nullptr, false);
    if (containers.is_array()) {
        for (const auto& c : containers)
            if (c.contains("id") && c["id"].is_string())
                hutch_cmd(root_, {"rm", "-f", c["id"].get<std::string>()});
    }
    // What a failed rm could not take away; the TempDir then removes plain files only.
    for (const auto& line : host_mounts_matching(root_.path())) {
        std::istringstream fields(line);
        std::string skip, mount_point;
        fields >> skip >> skip >> skip >> skip >> mount_point;
        ::umount2(mount_point.c_str(), MNT_DETACH);
    }
}

}  // namespace hutch::test
