// Images in and out of hutch's store as files: `hutch load` of docker archives (written by skopeo,
// the real client, and crafted ones, hostile included). Each test has a --storage-root of its own;
// bad input must give one line on stderr and status 125, and leave no name behind.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "harness.h"
#include "hutch_command.h"
#include "images/digest.h"
#include "images_layers.h"
#include "images_registry.h"

using namespace hutch::test;

namespace {

std::string sha256(const std::string& data) { return hutch::images::digest_of(data).value().str(); }

void write_file(const std::string& path, const std::string& data) {
    REQUIRE(hutch::write_file_atomic(path, data));
}

// A docker archive of the given members, at dir/name.
std::string write_archive(const TempDir& dir, const std::string& name,
                          const std::vector<LayerEntry>& members) {
    std::string path = dir.path() + "/" + name;
    write_file(path, make_layer(members));
    return path;
}

std::string config_for(const std::vector<std::string>& diff_ids) {
    return nlohmann::json{
        {"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}
        .dump();
}

std::string manifest_json(const std::string& config, const std::vector<std::string>& layers,
                          const std::vector<std::string>& tags = {"localhost/crafted:1"}) {
    return nlohmann::json::array({{{"Config", config}, {"RepoTags", tags}, {"Layers", layers}}}).dump();
}

// A failed load: one line that says what (expected), and no name given.
void check_refused_load(const TempDir& root, const std::string& archive, const std::string& expected) {
    auto loaded = hutch_cmd(root, {"load", "-i", archive});
    check_one_line_failure(loaded);
    INFO(loaded.err);
    CHECK(loaded.err.find(expected) != std::string::npos);
    CHECK(images_json(root).empty());
}

}  // namespace

TEST_CASE("hutch load: a docker archive written by skopeo, plain and gzip'd", "[hutch-images-io]") {
    TestImage image("hello from a docker archive\n");
    TempDir dir, root;
    std::string archive = dir.path() + "/docker.tar";
    auto copied = run_command({"skopeo", "copy", "oci:" + image.dir.path() + ":latest",
                               "docker-archive:" + archive + ":localhost/from-skopeo:v1"});
    INFO(copied.err);
    REQUIRE(copied.status == 0);

    auto loaded = hutch_cmd(root, {"load", "-i", archive});
    check_ok(loaded);
    CHECK(loaded.out.starts_with("Loaded image: localhost/from-skopeo:v1 sha256:"));
    // The layer was unpacked, its diffID checked: an uncompressed layer's diffID is its digest.
    std::string diff = root.path() + "/storage/layers/" + image.layer_digest.substr(7) + "/diff";
    CHECK(read_text(diff + "/etc/hello.txt") ==
          "hello from a docker archive");  // read_text drops the last newline
    // The config and layer are stored as they were, under their own digests.
    for (const auto& digest : {image.config_digest, image.layer_digest})
        CHECK(path_exists(root.path() + "/storage/blobs/sha256/" + digest.substr(7)));

    REQUIRE(shell("gzip -c " + archive + " > " + archive + ".gz").status == 0);
    check_ok(hutch_cmd(root, {"load", "-i", archive + ".gz", "localhost/gzipped:v2"}));
    auto listed = images_json(root);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]["name"] == "localhost/from-skopeo:v1");
    CHECK(listed[1]["name"] == "localhost/gzipped:v2");
    // Built from the same blobs, the manifest hutch writes is the same.
    CHECK(listed[0]["digest"] == listed[1]["digest"]);
}

TEST_CASE("hutch load: a docker archive's symlinked layer is followed; a wrong diffID is refused",
          "[hutch-images-io]") {
    std::string layer = make_layer({{.name = "hello.txt", .content = "crafted\n"}});
    std::string config = config_for({sha256(layer)});
    TempDir dir, root;
    // As docker save writes a layer that two images share: ID/layer.tar, a link to the first copy.
    auto good =
        write_archive(dir, "good.tar",
                      {{.name = "first/layer.tar", .content = layer},
                       {.name = "second", .type = AE_IFDIR, .mode = 0755},
                       {.name = "second/layer.tar", .type = AE_IFLNK, .link = "../first/layer.tar"},
                       {.name = "c.json", .content = config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"second/layer.tar"})}});
    auto loaded = hutch_cmd(root, {"load", "-i", good});
    check_ok(loaded);
    CHECK(loaded.out.find("localhost/crafted:1") != std::string::npos);
    CHECK(read_text(root.path() + "/storage/layers/" + sha256(layer).substr(7) + "/diff/hello.txt") ==
          "crafted");

    TempDir other_root;
    std::string wrong_config = config_for({sha256("another layer")});
    auto wrong =
        write_archive(dir, "wrong.tar",
                      {{.name = "layer.tar", .content = layer},
                       {.name = "c.json", .content = wrong_config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"layer.tar"})}});
    check_refused_load(other_root, wrong, "diffID is " + sha256(layer));
}

TEST_CASE("hutch load: hostile docker archives are refused in one line", "[hutch-images-io]") {
    std::string layer = make_layer({{.name = "x", .content = "x\n"}});
    std::string config = config_for({sha256(layer)});
    TempDir dir, root;
    auto outside =
        write_archive(dir, "outside.tar",
                      {{.name = "c.json", .content = config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"../../etc/passwd"})}});
    check_refused_load(root, outside, "Layers[0]: '../../etc/passwd' leads outside the archive");

    auto link_out =
        write_archive(dir, "link-out.tar",
                      {{.name = "layer.tar", .type = AE_IFLNK, .link = "../../etc/passwd"},
                       {.name = "c.json", .content = config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"layer.tar"})}});
    check_refused_load(root, link_out, "leads outside the archive");

    auto loop = write_archive(dir, "loop.tar",
                              {{.name = "a.tar", .type = AE_IFLNK, .link = "b.tar"},
                               {.name = "b.tar", .type = AE_IFLNK, .link = "a.tar"},
                               {.name = "c.json", .content = config},
                               {.name = "manifest.json", .content = manifest_json("c.json", {"a.tar"})}});
    check_refused_load(root, loop, "links lead through more than");

    auto device =
        write_archive(dir, "device.tar",
                      {{.name = "layer.tar", .type = AE_IFCHR, .major = 1, .minor = 3},
                       {.name = "c.json", .content = config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"layer.tar"})}});
    check_refused_load(root, device, "layer.tar: not a regular file");

    auto missing =
        write_archive(dir, "missing.tar",
                      {{.name = "c.json", .content = config},
                       {.name = "manifest.json", .content = manifest_json("c.json", {"layer.tar"})}});
    check_refused_load(root, missing, "layer.tar: not in the archive");

    auto bad_tag = write_archive(
        dir, "bad-tag.tar",
        {{.name = "layer.tar", .content = layer},
         {.name = "c.json", .content = config},
         {.name = "manifest.json", .content = manifest_json("c.json", {"layer.tar"}, {"Not/A::Reference"})}});
    check_refused_load(root, bad_tag, "RepoTags[0]");

    auto neither = write_archive(dir, "neither.tar", {{.name = "hello.txt", .content = "hi\n"}});
    check_refused_load(root, neither, "neither an OCI archive");
    write_file(dir.path() + "/not-a-tar", std::string(4096, 'z'));
    check_refused_load(root, dir.path() + "/not-a-tar", "not-a-tar");
}
