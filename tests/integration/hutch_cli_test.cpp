// The `hutch` command as a person runs it: pull from a real registry (Debian's docker-registry on
// 127.0.0.1, the image pushed with skopeo), images, load and rmi, each with a --storage-root of the
// test's own; and bad input, which must give one line on stderr and status 1.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "harness.h"
#include "hutch_command.h"
#include "images_registry.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// Every file under dir with its inode and mtime: a file fetched again would change both.
std::map<std::string, std::pair<ino_t, int64_t>> file_stamps(const std::string& dir) {
    std::map<std::string, std::pair<ino_t, int64_t>> stamps;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        struct stat st {};
        REQUIRE(lstat(entry.path().c_str(), &st) == 0);
        stamps[entry.path()] = {st.st_ino, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec};
    }
    return stamps;
}

}  // namespace

TEST_CASE("hutch: pull, images, a second pull that fetches nothing, rmi", "[hutch-cli]") {
    LocalRegistry registry;
    TestImage image("hello from hutch pull\n");
    registry.push(image.dir.path(), "test/img");
    TempDir root;
    std::string name = registry.address() + "/test/img:latest";

    auto pulled = hutch_cmd(root, {"pull", name});
    check_ok(pulled);
    CHECK(pulled.out == image.manifest_digest + "\n");
    std::string blobs = root.path() + "/storage/blobs/sha256";
    for (const auto& digest : {image.manifest_digest, image.config_digest, image.layer_digest})
        CHECK(path_exists(blobs + "/" + digest.substr(7)));

    auto table = hutch_cmd(root, {"images"});
    check_ok(table);
    CHECK(table.out.starts_with("REPOSITORY"));
    CHECK(table.out.find(registry.address() + "/test/img") != std::string::npos);
    CHECK(table.out.find(image.manifest_digest.substr(7, 12)) != std::string::npos);
    auto listed = images_json(root);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["name"] == name);
    CHECK(listed[0]["tag"] == "latest");
    CHECK(listed[0]["digest"] == image.manifest_digest);
    CHECK(listed[0]["size"] == image.manifest.size() + image.config.size() + image.layer.size());

    auto before = file_stamps(root.path() + "/storage/blobs");
    auto layers_before = file_stamps(root.path() + "/storage/layers");
    auto again = hutch_cmd(root, {"pull", name});
    check_ok(again);
    CHECK(again.out == image.manifest_digest + "\n");
    CHECK(file_stamps(root.path() + "/storage/blobs") == before);
    CHECK(file_stamps(root.path() + "/storage/layers") == layers_before);

    auto removed = hutch_cmd(root, {"rmi", name});
    check_ok(removed);
    CHECK(images_json(root).empty());
    check_one_line_failure(hutch_cmd(root, {"rmi", name}));
}

TEST_CASE("hutch: load names an OCI layout's image, and an OCI archive's", "[hutch-cli]") {
    TestImage image("hello from hutch load\n");
    TempDir root;

    auto loaded = hutch_cmd(root, {"load", "-i", image.dir.path(), "localhost/loaded:v1"});
    check_ok(loaded);
    CHECK(loaded.out.find("localhost/loaded:v1") != std::string::npos);
    CHECK(loaded.out.find(image.manifest_digest) != std::string::npos);

    TempDir archive_dir;
    std::string archive = archive_dir.path() + "/image.tar";
    auto tarred = run_command({"tar", "-C", image.dir.path(), "-cf", archive, "."});
    REQUIRE(tarred.status == 0);
    check_ok(hutch_cmd(root, {"load", "-i", archive, "localhost/archived:v2"}));

    auto listed = images_json(root);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]["name"] == "localhost/archived:v2");
    CHECK(listed[1]["name"] == "localhost/loaded:v1");
    for (const auto& entry : listed) CHECK(entry["digest"] == image.manifest_digest);

    check_one_line_failure(hutch_cmd(root, {"load", "-i", root.path() + "/not-there"}));
}

TEST_CASE("hutch: a malformed reference, an unknown image, no registry: one line, status 1", "[hutch-cli]") {
    LocalRegistry registry;
    TestImage image("bad input\n");
    registry.push(image.dir.path(), "test/img");
    TempDir root;

    check_one_line_failure(hutch_cmd(root, {"pull", "Not/A::Reference"}));
    auto unknown = hutch_cmd(root, {"pull", registry.address() + "/test/nope:latest"});
    check_one_line_failure(unknown);
    CHECK(unknown.err.find("404") != std::string::npos);
    auto closed =
        hutch_cmd(root, {"pull", "127.0.0.1:" + std::to_string(free_local_port()) + "/test/img:latest"});
    check_one_line_failure(closed);
    check_one_line_failure(
        hutch_cmd(root, {"pull", "--platform", "linux", registry.address() + "/test/img"}));
    check_one_line_failure(hutch_cmd(root, {"rmi", "never/pulled:latest"}));
    // Nothing failed halfway into a name.
    CHECK(images_json(root).empty());
}
