// Garbage collection of hutch's store through the `hutch` command: rmi removes what only its image
// used and keeps what another image or a container still uses; image prune removes dangling
// images, and with -a every image no container uses; a live lease (what a pull or load holds
// before it names its image) keeps its blobs from a prune. Each test has a store of its own, with
// images built here and loaded with `hutch load -i`.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.h"
#include "hutch_command.h"
#include "images/content_store.h"
#include "images/digest.h"
#include "images_registry.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

void load_image(const TempDir& root, const TestImage& image, const std::string& name) {
    check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), name}));
}

std::string blobs_dir(const TempDir& root) { return root.path() + "/storage/blobs/sha256"; }
std::string layers_dir(const TempDir& root) { return root.path() + "/storage/layers"; }

bool has_blob(const TempDir& root, const std::string& digest) {
    return path_exists(blobs_dir(root) + "/" + digest.substr(7));
}

// The names in dir (blobs' hexes, layers' chain IDs).
std::set<std::string> entries(const std::string& dir) {
    std::set<std::string> names;
    if (!fs::exists(dir)) return names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
    return names;
}

void check_blobs_of(const TempDir& root, const TestImage& image, bool present) {
    for (const auto& digest : {image.manifest_digest, image.config_digest, image.layer_digest}) {
        INFO(digest);
        CHECK(has_blob(root, digest) == present);
    }
}

const nlohmann::json kSleeper = {{"Cmd", {"sh", "-c", "while true; do sleep 0.1; done"}},
                                 {"Env", {"PATH=/bin:/sbin"}}};
const nlohmann::json kEcho = {{"Cmd", {"echo", "hello"}}, {"Env", {"PATH=/bin:/sbin"}}};

}  // namespace

TEST_CASE(
    "hutch rmi keeps a layer another image shares and removes the rest; image prune -a empties the store",
    "[hutch-gc]") {
    // a and b: one busybox layer, two configs; c: a layer of its own.
    TestImage a = busybox_image(kSleeper), b = busybox_image(kEcho);
    TestImage c("a layer only c has\n");
    REQUIRE(a.layer_digest == b.layer_digest);
    TempDir root;
    load_image(root, a, "localhost/a:1");
    load_image(root, b, "localhost/b:1");
    load_image(root, c, "localhost/c:1");
    REQUIRE(entries(layers_dir(root)).size() == 2);

    auto removed = hutch_cmd(root, {"rmi", "localhost/a:1"});
    check_ok(removed);
    CHECK(removed.out.find("Untagged: localhost/a:1\n") != std::string::npos);
    CHECK(removed.out.find("Deleted: " + a.manifest_digest) != std::string::npos);
    CHECK_FALSE(has_blob(root, a.manifest_digest));
    CHECK_FALSE(has_blob(root, a.config_digest));
    check_blobs_of(root, b, true);  // the shared layer blob among them
    check_blobs_of(root, c, true);
    CHECK(entries(layers_dir(root)).size() == 2);  // b still needs the busybox layer

    auto c_removed = hutch_cmd(root, {"rmi", "localhost/c:1"});
    check_ok(c_removed);
    check_blobs_of(root, c, false);
    check_blobs_of(root, b, true);
    CHECK(entries(layers_dir(root)).size() == 1);
    CHECK(c_removed.out.find("Deleted layer: sha256:") != std::string::npos);

    auto pruned = hutch_cmd(root, {"image", "prune", "-a"});
    check_ok(pruned);
    CHECK(pruned.out.find("Untagged: localhost/b:1\n") != std::string::npos);
    CHECK(pruned.out.find("Deleted: " + b.layer_digest) != std::string::npos);
    CHECK(pruned.out.find("Total reclaimed space: ") != std::string::npos);
    CHECK(images_json(root).empty());
    CHECK(entries(blobs_dir(root)).empty());
    CHECK(entries(layers_dir(root)).empty());
    check_one_line_failure(hutch_cmd(root, {"rmi", "localhost/b:1"}));
}

TEST_CASE("hutch image prune without -a removes only dangling images", "[hutch-gc]") {
    TestImage first("the first image of the name\n"), second("the image the name moved to\n");
    TempDir root;
    load_image(root, first, "localhost/moved:1");
    load_image(root, second, "localhost/moved:1");  // first is now dangling
    auto pruned = hutch_cmd(root, {"image", "prune"});
    check_ok(pruned);
    CHECK(pruned.out.find("Untagged") == std::string::npos);
    check_blobs_of(root, first, false);
    check_blobs_of(root, second, true);
    CHECK(entries(layers_dir(root)).size() == 1);
    REQUIRE(images_json(root).size() == 1);
    CHECK(images_json(root)[0]["digest"] == second.manifest_digest);
}

TEST_CASE("hutch rmi of an image a container uses is refused; -f removes only the name; after rm it goes",
          "[hutch-gc]") {
    TestImage image = busybox_image(kSleeper), other = busybox_image(kEcho);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/used:1");
    load_image(root, other, "localhost/forced:1");
    check_ok(hutch_cmd(root, {"create", "--name", "user", "localhost/used:1"}));
    check_ok(hutch_cmd(root, {"create", "--name", "forced-user", "localhost/forced:1"}));

    auto refused = hutch_cmd(root, {"rmi", "localhost/used:1"});
    check_one_line_failure(refused);
    CHECK(refused.err.find("in use by container") != std::string::npos);
    CHECK(images_json(root).size() == 2);
    check_blobs_of(root, image, true);

    // -f: the name goes, what the container uses stays, through a prune -a too.
    auto forced = hutch_cmd(root, {"rmi", "-f", "localhost/forced:1"});
    check_ok(forced);
    CHECK(forced.out.find("Deleted") == std::string::npos);
    check_ok(hutch_cmd(root, {"image", "prune", "-a"}));
    check_blobs_of(root, other, true);
    check_blobs_of(root, image, true);
    CHECK(images_json(root).size() == 1);  // used:1 is in use
    CHECK(entries(layers_dir(root)).size() == 1);

    check_ok(hutch_cmd(root, {"rm", "-f", "user"}));
    check_ok(hutch_cmd(root, {"rmi", "localhost/used:1"}));
    CHECK_FALSE(has_blob(root, image.manifest_digest));
    CHECK(has_blob(root, image.layer_digest));  // forced-user's image has it too
    check_ok(hutch_cmd(root, {"rm", "-f", "forced-user"}));
    check_ok(hutch_cmd(root, {"image", "prune"}));
    CHECK(entries(blobs_dir(root)).empty());
    CHECK(entries(layers_dir(root)).empty());
}

TEST_CASE("hutch image prune -a: a running container's layer survives, though its image lost its name",
          "[hutch-gc]") {
    TestImage image = busybox_image(kSleeper);
    TempDir root;
    ContainerSweeper sweep(root);
    load_image(root, image, "localhost/running:1");
    check_ok(hutch_cmd(root, {"run", "-d", "--name", "runner", "localhost/running:1"}));
    REQUIRE(inspect(root, "runner")["status"] == "running");
    std::string lower = inspect(root, "runner")["lowers"][0];
    check_ok(hutch_cmd(root, {"rmi", "-f", "localhost/running:1"}));

    auto pruned = hutch_cmd(root, {"image", "prune", "-a"});
    check_ok(pruned);
    CHECK(pruned.out.find("Deleted") == std::string::npos);
    CHECK(path_exists(lower + "/bin/busybox"));
    check_blobs_of(root, image, true);
    auto ran = hutch_cmd(root, {"exec", "runner", "cat", "/bin/busybox"});
    CHECK(ran.status == 0);

    check_ok(hutch_cmd(root, {"rm", "-f", "runner"}));
    check_ok(hutch_cmd(root, {"image", "prune"}));
    CHECK_FALSE(path_exists(lower));
    CHECK(entries(blobs_dir(root)).empty());
}

TEST_CASE("hutch image prune keeps what a live lease holds: a pull or load not yet named", "[hutch-gc]") {
    TestImage image("held by a lease\n");
    TempDir root;
    load_image(root, image, "localhost/leased:1");
    std::string storage = root.path() + "/storage";
    auto layer = hutch::images::parse_digest(image.layer_digest).value();
    {
        // As a pull that found the layer stored, and so skipped fetching it, before it names the image.
        auto content = hutch::images::ContentStore::open(storage).value();
        REQUIRE(content.has(layer).value());
        check_ok(hutch_cmd(root, {"image", "prune", "-a"}));
        CHECK(has_blob(root, image.layer_digest));
        CHECK_FALSE(has_blob(root, image.manifest_digest));  // not held, no name: gone
        CHECK(entries(storage + "/leases").size() == 1);
    }
    CHECK(entries(storage + "/leases").empty());  // given back with the ContentStore
    auto pruned = hutch_cmd(root, {"image", "prune"});
    check_ok(pruned);
    CHECK(pruned.out.find("Deleted: " + image.layer_digest) != std::string::npos);
    CHECK(entries(blobs_dir(root)).empty());
}
