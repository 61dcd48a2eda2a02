// images/oci_documents.h: indexes, manifests (OCI and Docker schema 2) and configs parse into what
// they say; malformed ones (not JSON, wrong types, bad digests, negative or huge sizes, unknown
// media types) are refused with one line naming the field, never a throw; and the platform choice.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "images/oci_documents.h"

using namespace hutch;
using namespace hutch::images;
using nlohmann::json;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');

json descriptor(const std::string& media_type, const std::string& digest, int64_t size) {
    return {{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

json good_manifest() {
    return {{"schemaVersion", 2},
            {"mediaType", media_types::oci_manifest},
            {"config", descriptor(std::string(media_types::oci_config), kDigestA, 300)},
            {"layers",
             {descriptor("application/vnd.oci.image.layer.v1.tar+gzip", kDigestB, 1000),
              descriptor("application/vnd.oci.image.layer.v1.tar", kDigestC, 2048)}},
            {"annotations", {{"org.opencontainers.image.title", "x"}}}};
}

json good_index() {
    json amd = descriptor(std::string(media_types::oci_manifest), kDigestA, 500);
    amd["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
    json arm = descriptor(std::string(media_types::oci_manifest), kDigestB, 500);
    arm["platform"] = {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}};
    json arm7 = descriptor(std::string(media_types::oci_manifest), kDigestC, 500);
    arm7["platform"] = {{"architecture", "arm"}, {"os", "linux"}, {"variant", "v7"}};
    return {{"schemaVersion", 2}, {"mediaType", media_types::oci_index}, {"manifests", {amd, arm, arm7}}};
}

json good_config() {
    return json::parse(R"({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin", "A=b"],
                   "WorkingDir": "/srv", "User": "1000:1000", "StopSignal": "SIGTERM",
                   "Volumes": {"/data": {}}, "Labels": {"maintainer": "me"},
                   "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
        "rootfs": {"type": "layers", "diff_ids": [")" +
                       kDigestB + R"(", ")" + kDigestC + R"("]},
        "history": [{"created_by": "test"}]
    })");
}

// The error of a refused document: one line that names where.
template <typename T>
std::string refused(const ErrorOr<T>& result, const std::string& where) {
    REQUIRE_FALSE(result);
    const std::string& message = result.error().message;
    INFO(message);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find(where) != std::string::npos);
    return message;
}

}  // namespace

TEST_CASE("oci documents: a manifest parses into its config and layers", "[images]") {
    auto manifest = parse_image_manifest(good_manifest().dump());
    REQUIRE(manifest);
    CHECK(manifest->media_type == media_types::oci_manifest);
    CHECK(manifest->config.digest.str() == kDigestA);
    CHECK(manifest->config.size == 300);
    REQUIRE(manifest->layers.size() == 2);
    CHECK(manifest->layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK(manifest->layers[1].digest.str() == kDigestC);
    CHECK(manifest->layers[1].size == 2048);
    CHECK(manifest->annotations.at("org.opencontainers.image.title") == "x");
}

TEST_CASE("oci documents: a Docker schema 2 manifest and manifest list parse", "[images]") {
    json manifest = good_manifest();
    manifest["mediaType"] = media_types::docker_manifest;
    manifest["config"]["mediaType"] = media_types::docker_config;
    manifest["layers"] = {descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", kDigestB, 10)};
    auto parsed = parse_image_manifest(manifest.dump());
    REQUIRE(parsed);
    CHECK(parsed->media_type == media_types::docker_manifest);
    CHECK(parsed->layers.size() == 1);

    json list = good_index();
    list["mediaType"] = media_types::docker_manifest_list;
    for (auto& entry : list["manifests"]) entry["mediaType"] = media_types::docker_manifest;
    auto index = parse_image_index(list.dump());
    REQUIRE(index);
    CHECK(index->media_type == media_types::docker_manifest_list);
    CHECK(index->manifests.size() == 3);
}

TEST_CASE("oci documents: an index without a mediaType is an OCI index", "[images]") {
    json index = good_index();
    index.erase("mediaType");
    auto parsed = parse_image_index(index.dump());
    REQUIRE(parsed);
    CHECK(parsed->media_type == media_types::oci_index);
    REQUIRE(parsed->manifests[1].platform);
    CHECK(parsed->manifests[1].platform->str() == "linux/arm64/v8");
}

TEST_CASE("oci documents: a config parses into how to run the image and its diffIDs", "[images]") {
    auto config = parse_image_config(good_config().dump());
    REQUIRE(config);
    CHECK(config->platform == Platform{"linux", "amd64", ""});
    CHECK(config->config.entrypoint == std::vector<std::string>{"/bin/sh", "-c"});
    CHECK(config->config.cmd == std::vector<std::string>{"echo hi"});
    CHECK(config->config.env == std::vector<std::string>{"PATH=/bin", "A=b"});
    CHECK(config->config.working_dir == "/srv");
    CHECK(config->config.user == "1000:1000");
    CHECK(config->config.stop_signal == "SIGTERM");
    CHECK(config->config.volumes == std::vector<std::string>{"/data"});
    CHECK(config->config.labels.at("maintainer") == "me");
    CHECK(config->config.exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
    REQUIRE(config->diff_ids.size() == 2);
    CHECK(config->diff_ids[0].str() == kDigestB);
}

TEST_CASE("oci documents: Docker's null fields read as unset", "[images]") {
    json config = good_config();
    config["config"]["Entrypoint"] = nullptr;
    config["config"]["Volumes"] = nullptr;
    config["config"]["Labels"] = nullptr;
    auto parsed = parse_image_config(config.dump());
    REQUIRE(parsed);
    CHECK(parsed->config.entrypoint.empty());
    CHECK(parsed->config.volumes.empty());
    CHECK(parsed->config.labels.empty());
}

TEST_CASE("oci documents: malformed manifests are refused naming the field", "[images]") {
    auto with = [](auto edit) {
        json manifest = good_manifest();
        edit(manifest);
        return parse_image_manifest(manifest.dump());
    };
    refused(parse_image_manifest("{\"schemaVersion\": 2, "), "not valid JSON");
    refused(parse_image_manifest("[1, 2]"), "expected a JSON object");
    refused(parse_image_manifest("\xff\xfe"), "not valid JSON");
    refused(with([](json& m) { m["schemaVersion"] = 1; }), "schemaVersion");
    refused(with([](json& m) { m.erase("schemaVersion"); }), "schemaVersion: required");
    refused(with([](json& m) { m["mediaType"] = media_types::oci_index; }), "mediaType");
    refused(with([](json& m) { m.erase("config"); }), "config: required");
    refused(with([](json& m) { m["config"] = "x"; }), "config: expected object");
    refused(with([](json& m) { m["layers"] = json::object(); }), "layers: expected array");
    refused(with([](json& m) { m["layers"][1]["digest"] = 7; }), "layers[1].digest: expected string");
    refused(with([](json& m) { m["layers"][1]["digest"] = "sha256:ABC"; }), "layers[1].digest");
    refused(with([](json& m) { m["layers"][1]["digest"] = "md5:" + std::string(32, 'a'); }),
            "layers[1].digest");
    refused(with([](json& m) { m["layers"][0]["size"] = -1; }),
            "layers[0].size: integer out of range [0, 18446744073709551615]");
    refused(with([](json& m) { m["layers"][0]["size"] = 1.5; }), "layers[0].size");
    refused(with([](json& m) { m["layers"][0]["size"] = "10"; }), "layers[0].size");
    refused(with([](json& m) { m["layers"][0].erase("mediaType"); }), "layers[0].mediaType: required");
    refused(with([](json& m) { m["annotations"] = {{"a", 1}}; }), "annotations.a: expected string");
    // A size past uint64 parses as a float; it must be refused, not wrapped.
    std::string huge = good_manifest().dump();
    huge.replace(huge.find("2048"), 4, "99999999999999999999999999");
    refused(parse_image_manifest(huge), "layers[1].size");
}

TEST_CASE("oci documents: a layer media type other than tar, gzip, zstd is refused by name", "[images]") {
    CHECK(check_layer_media_type("application/vnd.oci.image.layer.v1.tar"));
    CHECK(check_layer_media_type("application/vnd.oci.image.layer.v1.tar+gzip"));
    CHECK(check_layer_media_type("application/vnd.oci.image.layer.v1.tar+zstd"));
    CHECK(check_layer_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"));
    refused(check_layer_media_type("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
    json manifest = good_manifest();
    manifest["layers"][1]["mediaType"] = "application/x-squashfs";
    refused(parse_image_manifest(manifest.dump()),
            "layers[1].mediaType: layer media type 'application/x-squashfs'");
}

TEST_CASE("oci documents: malformed indexes and configs are refused naming the field", "[images]") {
    json index = good_index();
    index["manifests"][2]["platform"]["os"] = 3;
    refused(parse_image_index(index.dump()), "manifests[2].platform.os: expected string");
    index = good_index();
    index["manifests"] = nullptr;
    refused(parse_image_index(index.dump()), "manifests: required");
    index = good_index();
    index["mediaType"] = media_types::oci_manifest;
    refused(parse_image_index(index.dump()), "mediaType");

    auto config_with = [](auto edit) {
        json config = good_config();
        edit(config);
        return parse_image_config(config.dump());
    };
    refused(config_with([](json& c) { c.erase("os"); }), "os: required");
    refused(config_with([](json& c) { c["config"]["Env"] = {"A=b", 5}; }), "config.Env[1]: expected string");
    refused(config_with([](json& c) { c["config"]["Cmd"] = "echo"; }), "config.Cmd: expected array");
    refused(config_with([](json& c) { c["config"]["Volumes"] = {"/data"}; }),
            "config.Volumes: expected object");
    refused(config_with([](json& c) { c["config"]["Labels"] = {{"a", true}}; }), "config.Labels.a");
    refused(config_with([](json& c) { c["config"]["WorkingDir"] = 1; }), "config.WorkingDir");
    refused(config_with([](json& c) { c["rootfs"]["type"] = "squash"; }), "rootfs.type");
    refused(config_with([](json& c) { c.erase("rootfs"); }), "rootfs: required");
    refused(config_with([](json& c) { c["rootfs"]["diff_ids"][1] = "sha256:xyz"; }), "rootfs.diff_ids[1]");
    refused(config_with([](json& c) { c["rootfs"]["diff_ids"] = 3; }), "rootfs.diff_ids: expected array");
}

TEST_CASE("oci documents: deeply nested JSON is refused without a crash", "[images]") {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    refused(parse_image_config(deep), "expected a JSON object");
    std::string field = R"({"architecture": "amd64", "os": "linux", "config": {"Labels": )" +
                        std::string(50000, '[') + std::string(50000, ']') + "}}";
    refused(parse_image_config(field), "config.Labels");
}

TEST_CASE("platforms: uname machine names map to GOARCH names", "[images]") {
    CHECK(goarch_of_machine("x86_64") == "amd64");
    CHECK(goarch_of_machine("aarch64") == "arm64");
    CHECK(goarch_of_machine("i686") == "386");
    CHECK(goarch_of_machine("armv7l") == "arm");
    CHECK(goarch_of_machine("s390x") == "s390x");
    CHECK(goarch_of_machine("ppc64le") == "ppc64le");
    auto host = host_platform();
    CHECK(host.os == "linux");
#if defined(__x86_64__)
    CHECK(host.architecture == "amd64");
#elif defined(__aarch64__)
    CHECK(host.architecture == "arm64");
#endif
}

TEST_CASE("platforms: os/arch[/variant] parses; anything else is refused", "[images]") {
    CHECK(parse_platform("linux/amd64").value() == Platform{"linux", "amd64", ""});
    CHECK(parse_platform("linux/arm/v7").value() == Platform{"linux", "arm", "v7"});
    refused(parse_platform("linux"), "platform 'linux'");
    refused(parse_platform("linux//v7"), "expected os/arch[/variant]");
    refused(parse_platform("linux/arm/v7/x"), "expected os/arch[/variant]");
    refused(parse_platform(""), "expected os/arch[/variant]");
}

TEST_CASE("platforms: an index gives the manifest of the platform asked for", "[images]") {
    auto index = parse_image_index(good_index().dump());
    REQUIRE(index);
    CHECK(select_platform(*index, Platform{"linux", "amd64", ""})->digest.str() == kDigestA);
    // arm64's v8 is its only variant: asked with or without it, written with or without it.
    CHECK(select_platform(*index, Platform{"linux", "arm64", ""})->digest.str() == kDigestB);
    CHECK(select_platform(*index, Platform{"linux", "arm64", "v8"})->digest.str() == kDigestB);
    CHECK(select_platform(*index, Platform{"linux", "arm", "v7"})->digest.str() == kDigestC);
    std::string message = refused(select_platform(*index, Platform{"linux", "arm", "v6"}), "linux/arm/v6");
    CHECK(message.find("linux/amd64") != std::string::npos);
    refused(select_platform(*index, Platform{"windows", "amd64", ""}), "no manifest for windows/amd64");
    // The host's platform is the default: here, the amd64 entry (or the host's own).
    auto host = select_platform(*index, host_platform());
    if (host_platform().architecture == "amd64") CHECK(host->digest.str() == kDigestA);
}

TEST_CASE("platforms: an entry without a platform is taken when none matches", "[images]") {
    json index = good_index();
    index["manifests"][2].erase("platform");
    auto parsed = parse_image_index(index.dump());
    REQUIRE(parsed);
    CHECK(select_platform(*parsed, Platform{"linux", "amd64", ""})->digest.str() == kDigestA);
    CHECK(select_platform(*parsed, Platform{"linux", "riscv64", ""})->digest.str() == kDigestC);
}
