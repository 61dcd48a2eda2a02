#include "hutch_cli.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace hutch::test {

CommandResult hutch_cmd(const TempDir& root, std::vector<std::string> args, const std::string& stdin_data) {
    args.insert(args.begin(), {HUTCH_BINARY, "--storage-root", root.path() + "/storage"});
    return run_command(args, stdin_data);
}

void check_ok(const CommandResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.status == 0);
}

void check_one_line_failure(const CommandResult& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.status == 1);
    REQUIRE_FALSE(r.err.empty());
    CHECK(r.err.back() == '\n');
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.starts_with("hutch: "));
}

nlohmann::json images_json(const TempDir& root) {
    auto listed = hutch_cmd(root, {"images", "--format", "json"});
    check_ok(listed);
    auto parsed = nlohmann::json::parse(listed.out, nullptr, false);
    REQUIRE(parsed.is_array());
    return parsed;
}

}  // namespace hutch::test
