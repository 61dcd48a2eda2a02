// `hutch save` and `hutch import`, checked by reading their output back: with `hutch load` into a
// fresh store (the same manifest digest, the same diffIDs), with skopeo (the real client: inspect
// and copy of the archives), and by running a container from an imported root filesystem. Each
// test has a --storage-root of its own; a failure is one line and leaves no file or name behind.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "harness.h"
#include "hutch_command.h"
#include "images/digest.h"
#include "images_layers.h"
#include "images_registry.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

std::string sha256(const std::string& data) { return hutch::images::digest_of(data).value().str(); }

// A store holding image as name; returns its manifest digest.
std::string load_named(const TempDir& root, const TestImage& image, const std::string& name) {
    check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), name}));
    return image.manifest_digest;
}

// The stored blob's text.
std::string blob_text(const TempDir& root, const std::string& digest) {
    return read_text(root.path() + "/storage/blobs/sha256/" + digest.substr(7));
}

nlohmann::json stored_json(const TempDir& root, const std::string& digest) {
    auto parsed = nlohmann::json::parse(blob_text(root, digest), nullptr, false);
    REQUIRE(parsed.is_object());
    return parsed;
}

// The manifest digest that `hutch images` shows for name.
std::string digest_of_name(const TempDir& root, const std::string& name) {
    for (const auto& image : images_json(root))
        if (image["name"] == name) return image["digest"];
    FAIL("no image named " << name);
    return "";
}

// The image's config's rootfs.diff_ids.
nlohmann::json diff_ids_of(const TempDir& root, const std::string& name) {
    auto manifest = stored_json(root, digest_of_name(root, name));
    return stored_json(root, manifest["config"]["digest"])["rootfs"]["diff_ids"];
}

nlohmann::json skopeo_json(const std::vector<std::string>& args) {
    auto r = run_command(args);
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto parsed = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(parsed.is_object());
    return parsed;
}

// Nothing but the files expected in dir: no temporary file a failed save left.
std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(dir)) names.push_back(item.path().filename());
    std::ranges::sort(names);
    return names;
}

}  // namespace

TEST_CASE("hutch save --format oci-archive: load gives the same manifest; skopeo reads and copies it",
          "[hutch-images-io]") {
    TestImage first("first image\n"), second("second image\n");
    TempDir root, dir;
    std::string first_digest = load_named(root, first, "localhost/first:1");
    std::string second_digest = load_named(root, second, "localhost/second:2");
    std::string archive = dir.path() + "/both.tar";
    check_ok(hutch_cmd(
        root, {"save", "--format", "oci-archive", "-o", archive, "localhost/first:1", "localhost/second:2"}));
    CHECK(files_in(dir.path()) == std::vector<std::string>{"both.tar"});

    TempDir fresh;
    auto loaded = hutch_cmd(fresh, {"load", "-i", archive});
    check_ok(loaded);
    CHECK(loaded.out == "Loaded image: localhost/first:1 " + first_digest +
                            "\nLoaded image: localhost/second:2 " + second_digest + "\n");
    CHECK(diff_ids_of(fresh, "localhost/first:1") == nlohmann::json::array({first.layer_digest}));

    // skopeo finds each image by its ref.name annotation.
    auto inspected = skopeo_json({"skopeo", "inspect", "oci-archive:" + archive + ":localhost/second:2"});
    CHECK(inspected["Digest"] == second_digest);
    CHECK(inspected["Layers"] == nlohmann::json::array({second.layer_digest}));
    std::string layout = dir.path() + "/copied";
    // Without --preserve-digests skopeo would gzip the plain layer on the way: a new manifest.
    auto copied = run_command({"skopeo", "copy", "--preserve-digests",
                               "oci-archive:" + archive + ":localhost/first:1", "oci:" + layout + ":c"});
    INFO(copied.err);
    REQUIRE(copied.status == 0);
    auto index = nlohmann::json::parse(read_text(layout + "/index.json"));
    CHECK(index["manifests"][0]["digest"] == first_digest);

    // One image, saved by name: skopeo needs no name to pick it.
    std::string one = dir.path() + "/one.tar";
    check_ok(hutch_cmd(root, {"save", "--format", "oci-archive", "-o", one, "localhost/first:1"}));
    CHECK(skopeo_json({"skopeo", "inspect", "oci-archive:" + one})["Digest"] == first_digest);
}

TEST_CASE("hutch save (docker-archive): load gives the same diffIDs; skopeo inspects and copies it",
          "[hutch-images-io]") {
    TestImage image("a docker archive from hutch\n");
    TempDir root, dir;
    load_named(root, image, "localhost/dock:1");
    std::string archive = dir.path() + "/dock.tar";
    check_ok(hutch_cmd(root, {"save", "-o", archive, "localhost/dock:1"}));

    TempDir fresh;
    auto loaded = hutch_cmd(fresh, {"load", "-i", archive});
    check_ok(loaded);
    CHECK(loaded.out.starts_with("Loaded image: localhost/dock:1 sha256:"));
    CHECK(diff_ids_of(fresh, "localhost/dock:1") == nlohmann::json::array({image.layer_digest}));
    // The config is the stored one, byte for byte.
    auto manifest = stored_json(fresh, digest_of_name(fresh, "localhost/dock:1"));
    CHECK(manifest["config"]["digest"] == image.config_digest);

    auto inspected = skopeo_json({"skopeo", "inspect", "docker-archive:" + archive});
    CHECK(inspected["RepoTags"] == nlohmann::json::array());  // skopeo lists a registry's tags only
    CHECK(inspected["Layers"] == nlohmann::json::array({image.layer_digest}));
    auto config = skopeo_json({"skopeo", "inspect", "--config", "docker-archive:" + archive});
    CHECK(config["rootfs"]["diff_ids"] == nlohmann::json::array({image.layer_digest}));
    std::string layout = dir.path() + "/copied";
    auto copied = run_command({"skopeo", "copy", "docker-archive:" + archive, "oci:" + layout + ":c"});
    INFO(copied.err);
    REQUIRE(copied.status == 0);
    TempDir third;
    check_ok(hutch_cmd(third, {"load", "-i", layout, "localhost/via-skopeo:1"}));
    CHECK(diff_ids_of(third, "localhost/via-skopeo:1") == nlohmann::json::array({image.layer_digest}));
}

TEST_CASE("hutch save: refusals are one line and leave no file behind", "[hutch-images-io]") {
    TestImage image("refusals\n");
    TempDir root, dir;
    load_named(root, image, "localhost/r:1");
    std::string archive = dir.path() + "/out.tar";
    auto unknown = hutch_cmd(root, {"save", "-o", archive, "localhost/r:1", "localhost/nope:1"});
    check_one_line_failure(unknown);
    CHECK(unknown.err.find("localhost/nope:1") != std::string::npos);
    auto format = hutch_cmd(root, {"save", "--format", "oci-dir", "-o", archive, "localhost/r:1"});
    check_one_line_failure(format);
    CHECK(format.err.find("oci-dir") != std::string::npos);
    auto no_dir = hutch_cmd(root, {"save", "-o", dir.path() + "/missing/out.tar", "localhost/r:1"});
    check_one_line_failure(no_dir);
    // A layer blob gone from the store: the save fails half-way, and its temporary file goes.
    REQUIRE(fs::remove(root.path() + "/storage/blobs/sha256/" + image.layer_digest.substr(7)));
    auto broken = hutch_cmd(root, {"save", "-o", archive, "localhost/r:1"});
    check_one_line_failure(broken);
    CHECK(files_in(dir.path()).empty());
}

TEST_CASE("hutch import: a busybox root filesystem runs; --change sets its Cmd", "[hutch-images-io]") {
    TempDir root;
    ContainerSweeper sweeper(root);
    auto imported = hutch_cmd(root, {"import", "-c", R"(CMD ["/bin/echo", "from cmd"])", "-c",
                                     "ENV GREETING=hi there", busybox_rootfs(), "localhost/imported:1"});
    check_ok(imported);
    std::string digest = imported.out.substr(0, imported.out.size() - 1);
    CHECK(digest == digest_of_name(root, "localhost/imported:1"));
    auto manifest = stored_json(root, digest);
    CHECK(manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip");
    auto config = stored_json(root, manifest["config"]["digest"]);
    CHECK(config["config"]["Env"] == nlohmann::json::array({"GREETING=hi there"}));
    CHECK(config["history"][0]["created_by"] == "hutch import");

    auto echoed = hutch_cmd(root, {"run", "--rm", "localhost/imported:1", "/bin/echo", "hi"});
    check_ok(echoed);
    CHECK(echoed.out == "hi\n");
    auto from_cmd = hutch_cmd(root, {"run", "--rm", "localhost/imported:1"});
    check_ok(from_cmd);
    CHECK(from_cmd.out == "from cmd\n");

    // The same tree gives the same layer again: entries sorted, no access times.
    check_ok(hutch_cmd(root, {"import", busybox_rootfs(), "localhost/imported:2"}));
    CHECK(diff_ids_of(root, "localhost/imported:2") == diff_ids_of(root, "localhost/imported:1"));
}

TEST_CASE("hutch import: a tarball is stored as given and unpacks as its directory does",
          "[hutch-images-io]") {
    TempDir root, tree, dir;
    // Modes, owners, a symlink (never followed), a hardlink, an empty directory.
    REQUIRE(shell("mkdir -p " + tree.path() + "/etc/empty " + tree.path() + "/bin && echo hello > " +
                  tree.path() + "/etc/hello && chmod 0600 " + tree.path() + "/etc/hello && chown 1000:1001 " +
                  tree.path() + "/etc/hello && ln -s /etc/hello " + tree.path() + "/bin/link && ln " +
                  tree.path() + "/etc/hello " + tree.path() + "/bin/hard && chmod 4755 " + tree.path() +
                  "/bin")
                .status == 0);
    std::string tarball = dir.path() + "/tree.tar.gz";
    REQUIRE(shell("tar -C " + tree.path() + " --numeric-owner -czf " + tarball + " .").status == 0);

    check_ok(hutch_cmd(root, {"import", tree.path(), "localhost/from-dir:1"}));
    check_ok(hutch_cmd(root, {"import", tarball, "localhost/from-tar:1"}));
    auto tar_diff_id = diff_ids_of(root, "localhost/from-tar:1")[0].get<std::string>();
    auto plain = shell("gzip -dc " + tarball);
    REQUIRE(plain.status == 0);
    CHECK(tar_diff_id == sha256(plain.out));
    // Stored as given: the layer blob is the tarball's bytes.
    auto manifest = stored_json(root, digest_of_name(root, "localhost/from-tar:1"));
    CHECK(manifest["layers"][0]["digest"] == sha256(hutch::read_file(tarball).value()));

    auto dir_diff_id = diff_ids_of(root, "localhost/from-dir:1")[0].get<std::string>();
    // One layer each: its chain ID is its diffID.
    auto from_dir = describe_tree(root.path() + "/storage/layers/" + dir_diff_id.substr(7) + "/diff");
    auto from_tar = describe_tree(root.path() + "/storage/layers/" + tar_diff_id.substr(7) + "/diff");
    CHECK(from_dir.size() == 6);
    CHECK(tree_difference(from_dir, from_tar) == "");
    CHECK(tree_difference(from_dir, describe_tree(tree.path())) == "");
}

TEST_CASE("hutch import: refusals are one line and name nothing", "[hutch-images-io]") {
    TempDir root, dir;
    auto missing = hutch_cmd(root, {"import", dir.path() + "/nope.tar", "localhost/x:1"});
    check_one_line_failure(missing);
    CHECK(missing.err.find("nope.tar") != std::string::npos);
    auto change = hutch_cmd(root, {"import", "-c", "EXPOSE 80", dir.path(), "localhost/x:1"});
    check_one_line_failure(change);
    CHECK(change.err.find("only CMD, ENTRYPOINT, ENV, WORKDIR and USER") != std::string::npos);
    auto cmd = hutch_cmd(root, {"import", "-c", "CMD [\"sh\", 1]", dir.path(), "localhost/x:1"});
    check_one_line_failure(cmd);
    REQUIRE(hutch::write_file_atomic(dir.path() + "/not-a-tar", std::string(3000, 'z')));
    auto not_tar = hutch_cmd(root, {"import", dir.path() + "/not-a-tar", "localhost/x:1"});
    check_one_line_failure(not_tar);
    auto bad_name = hutch_cmd(root, {"import", dir.path(), "Not/A::Name"});
    check_one_line_failure(bad_name);
    CHECK(images_json(root).empty());
}
