// images/config_change.h and rootfs_import.h's config: `hutch import --change` instructions set
// the run config as a Dockerfile's do, anything else is refused in one line; the config written
// for an imported layer names it and this host's platform.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "images/config_change.h"
#include "images/oci_documents.h"
#include "images/rootfs_import.h"

using namespace hutch;
using namespace hutch::images;
using nlohmann::ordered_json;

namespace {

ordered_json changed(const std::vector<std::string>& changes) {
    auto config = ordered_json::object();
    for (const auto& change : changes) {
        auto applied = apply_config_change(config, change);
        INFO(change);
        REQUIRE(applied);
    }
    return config;
}

void check_refused(const std::string& change, const std::string& expected) {
    auto config = ordered_json::object();
    auto applied = apply_config_change(config, change);
    REQUIRE_FALSE(applied);
    INFO(applied.error().message);
    CHECK(applied.error().message.find(expected) != std::string::npos);
    CHECK(applied.error().message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("import --change: CMD and ENTRYPOINT in JSON and shell form", "[images-config-change]") {
    CHECK(changed({R"(CMD ["sh", "-c", "echo hi"])"})["Cmd"] == ordered_json({"sh", "-c", "echo hi"}));
    CHECK(changed({"CMD=[\"sh\"]"})["Cmd"] == ordered_json({"sh"}));
    CHECK(changed({"ENTRYPOINT top -b"})["Entrypoint"] == ordered_json({"/bin/sh", "-c", "top -b"}));
    CHECK(changed({"cmd [\"x\"]", "CMD [\"y\"]"})["Cmd"] == ordered_json({"y"}));
}

TEST_CASE("import --change: ENV replaces a name's value; WORKDIR and USER", "[images-config-change]") {
    auto config =
        changed({"ENV PATH=/bin", "ENV A b c", "ENV PATH=/usr/bin:/bin", "WORKDIR /srv", "USER 1000:1000"});
    CHECK(config["Env"] == ordered_json({"PATH=/usr/bin:/bin", "A=b c"}));
    CHECK(config["WorkingDir"] == "/srv");
    CHECK(config["User"] == "1000:1000");
}

TEST_CASE("import --change: what it cannot set is refused in one line", "[images-config-change]") {
    check_refused("EXPOSE 80", "only CMD, ENTRYPOINT, ENV, WORKDIR and USER");
    check_refused("CMD", "no value");
    check_refused("CMD [\"sh\", 1]", "not a string");
    check_refused("CMD [\"sh\"", "not a JSON array");
    check_refused("ENV =x", "not NAME=VALUE");
    check_refused("WORKDIR srv", "absolute");
}

TEST_CASE("import: the config of one layer parses back with its diffID and this host's platform",
          "[images-config-change]") {
    auto diff_id = digest_of("a layer").value();
    auto config = single_layer_config(diff_id, changed({"CMD [\"sh\"]"}), "2024-01-02T03:04:05Z", "imported");
    auto parsed = parse_image_config(config.dump());
    REQUIRE(parsed);
    CHECK(parsed->diff_ids == std::vector{diff_id});
    CHECK(parsed->platform == host_platform());
    CHECK(parsed->config.cmd == std::vector<std::string>{"sh"});
    CHECK(config["history"][0]["comment"] == "imported");
}
