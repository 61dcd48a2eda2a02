// images/docker_archive.h and archive_members.h: a docker archive's manifest.json parses into its
// images, and hostile names in it (absolute, leading outside the archive, not a reference) are
// refused with one line naming the entry, never a throw.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "images/archive_members.h"
#include "images/docker_archive.h"

using namespace hutch;
using namespace hutch::images;
using nlohmann::json;

namespace {

json podman_manifest() {
    return json::array({{{"Config", "0e83a0a0.json"},
                         {"RepoTags", {"localhost/bb:1", "busybox"}},
                         {"Layers", {"./8fedbd3b.tar", "b365/layer.tar"}}}});
}

void check_refused(std::string_view text, const std::string& expected) {
    auto parsed = parse_docker_archive_manifest(text);
    REQUIRE_FALSE(parsed);
    INFO(parsed.error().message);
    CHECK(parsed.error().message.find(expected) != std::string::npos);
    CHECK(parsed.error().message.find('\n') == std::string::npos);
}

std::string with(const std::string& field, const json& value) {
    auto doc = podman_manifest();
    doc[0][field] = value;
    return doc.dump();
}

}  // namespace

TEST_CASE("docker archive: manifest.json lists each image's config, names and layers", "[images]") {
    auto parsed = parse_docker_archive_manifest(podman_manifest().dump());
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 1);
    const auto& image = (*parsed)[0];
    CHECK(image.config == "0e83a0a0.json");
    CHECK(image.repo_tags == std::vector<std::string>{"localhost/bb:1", "busybox"});
    CHECK(image.layers == std::vector<std::string>{"8fedbd3b.tar", "b365/layer.tar"});

    // docker writes "RepoTags": null for an image saved by id.
    auto unnamed = parse_docker_archive_manifest(with("RepoTags", nullptr));
    REQUIRE(unnamed);
    CHECK((*unnamed)[0].repo_tags.empty());
}

TEST_CASE("docker archive: hostile or malformed manifest.json is refused in one line", "[images]") {
    check_refused("not json", "not valid JSON");
    check_refused("{}", "manifest.json: expected array");
    check_refused("[]", "lists no images");
    check_refused("[1]", "[0]: expected object");
    check_refused(with("Config", "../../etc/shadow"),
                  "[0].Config: '../../etc/shadow' leads outside the archive");
    check_refused(with("Config", "/etc/shadow"), "[0].Config: '/etc/shadow' is absolute");
    check_refused(with("Config", 7), "[0].Config: expected string");
    check_refused(with("Layers", {"a.tar", "x/../../b.tar"}), "[0].Layers[1]: 'x/../../b.tar' leads outside");
    check_refused(with("Layers", {""}), "[0].Layers[0]: an empty name");
    check_refused(with("Layers", "a.tar"), "[0].Layers: expected array");
    check_refused(with("RepoTags", {"Not/A::Reference"}), "[0].RepoTags[0]");
    auto no_layers = podman_manifest();
    no_layers[0].erase("Layers");
    check_refused(no_layers.dump(), "[0].Layers: required");
}

TEST_CASE("archive members: names are paths from the archive's root", "[images]") {
    CHECK(archive_member_path("./blobs//sha256/./x").value() == "blobs/sha256/x");
    CHECK(archive_member_path("a/../b").value() == "b");
    // A symlink's target, from its member's directory (docker save links repeated layers).
    CHECK(archive_member_path("../8fed.tar", "b365").value() == "8fed.tar");
    CHECK_FALSE(archive_member_path("../../x", "b365"));
    CHECK_FALSE(archive_member_path("/x", "b365"));
    CHECK_FALSE(archive_member_path("."));
    CHECK_FALSE(archive_member_path(""));
}
