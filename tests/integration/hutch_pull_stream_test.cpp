// `hutch pull` unpacks each layer from its bytes as they stream in: every layer is in the layer
// store once the pull returns; a blob whose digest or diffID is wrong, or a hostile layer, leaves
// neither blob, nor layer, nor temporary directory behind; and the unpack really runs during the
// download (a relay holds the download back until the layer's first file is seen unpacked).

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gated_proxy.h"
#include "harness.h"
#include "hutch_command.h"
#include "images/layer_store.h"
#include "images_layers.h"
#include "images_registry.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

const char* const kGzipLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

std::string sha256(const std::string& data) { return hutch::images::digest_of(data).value().str(); }

// The layer store's directories for these diffIDs (bottom first), as the pull names them.
std::vector<std::string> layer_dirs(const TempDir& root, const std::vector<std::string>& diff_ids) {
    std::vector<hutch::images::Digest> digests;
    for (const auto& d : diff_ids) digests.push_back(hutch::images::parse_digest(d).value());
    auto chain_ids = hutch::images::chain_ids(digests).value();
    std::vector<std::string> dirs;
    for (const auto& chain : chain_ids) dirs.push_back(root.path() + "/storage/layers/" + chain.hex);
    return dirs;
}

size_t ingest_files(const TempDir& root) {
    std::error_code ec;
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(root.path() + "/storage/ingest", ec), fs::directory_iterator()));
}

// Names under storage/layers that are unpacks in progress (or left by one).
std::vector<std::string> temp_layer_dirs(const TempDir& root) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root.path() + "/storage/layers", ec))
        if (entry.path().filename().string().starts_with(".")) found.push_back(entry.path());
    return found;
}

bool ingest_is_empty(const TempDir& root) { return fs::is_empty(root.path() + "/storage/ingest"); }

bool blob_stored(const TempDir& root, const std::string& digest) {
    return path_exists(root.path() + "/storage/blobs/sha256/" + digest.substr(7));
}

// After a failed pull: nothing of the layer (blob, layer dir, temporary dir, ingest file).
void check_nothing_left(const TempDir& root, const std::string& blob, const std::string& layer_dir) {
    CHECK_FALSE(blob_stored(root, blob));
    CHECK_FALSE(path_exists(layer_dir));
    CHECK(temp_layer_dirs(root).empty());
    CHECK(ingest_is_empty(root));
    CHECK(images_json(root).empty());
}

}  // namespace

TEST_CASE("hutch pull: every layer is unpacked and committed by the pull itself", "[hutch-pull]") {
    std::vector<std::vector<LayerEntry>> contents = {
        {{.name = "etc", .type = AE_IFDIR, .mode = 0755}, {.name = "etc/one.txt", .content = "one\n"}},
        {{.name = "etc/two.txt", .content = "two\n"}, {.name = "etc/.wh.one.txt"}},
        {{.name = "big.bin", .content = random_bytes(4 << 20)}},
    };
    std::vector<std::string> blobs, diff_ids;
    for (const auto& entries : contents) {
        blobs.push_back(make_layer(entries, LayerCompression::gzip));
        diff_ids.push_back(sha256(make_layer(entries)));
    }
    TestImage image(blobs, nlohmann::json::object(), "amd64", diff_ids, kGzipLayer);
    LocalRegistry registry;
    registry.push(image.dir.path(), "test/layers");
    TempDir root;

    check_ok(hutch_cmd(root, {"pull", registry.address() + "/test/layers:latest"}));
    auto dirs = layer_dirs(root, diff_ids);
    CHECK(read_text(dirs[0] + "/diff/etc/one.txt") == "one");
    CHECK(read_text(dirs[1] + "/diff/etc/two.txt") == "two");
    CHECK(fs::is_character_file(dirs[1] + "/diff/etc/one.txt"));  // the whiteout, overlayfs's way
    CHECK(fs::file_size(dirs[2] + "/diff/big.bin") == 4 << 20);
    CHECK(temp_layer_dirs(root).size() == 0);
    CHECK(ingest_is_empty(root));
    for (const auto& blob : image.layer_digests) CHECK(blob_stored(root, blob));
}

TEST_CASE("hutch pull: a layer with a wrong digest, a wrong diffID or a hostile entry leaves nothing",
          "[hutch-pull]") {
    LocalRegistry registry;
    TempDir root;
    std::string base = make_layer({{.name = "base.txt", .content = "base\n"}});
    std::string good = make_layer({{.name = "good.txt", .content = std::string(256 << 10, 'g')}});

    SECTION("the registry's blob is corrupt: its digest does not match") {
        TestImage image({base, good}, nlohmann::json::object(), "amd64");
        registry.push(image.dir.path(), "test/corrupt");
        // The same size, one byte of the file's content changed: the tar still unpacks.
        std::string corrupt = good;
        corrupt[100000] = 'x';
        std::ofstream(registry.blob_file(image.layer_digest), std::ios::binary | std::ios::trunc) << corrupt;
        auto pulled = hutch_cmd(root, {"pull", registry.address() + "/test/corrupt:latest"});
        check_one_line_failure(pulled);
        CHECK(pulled.err.find("content has digest") != std::string::npos);
        check_nothing_left(root, image.layer_digest, layer_dirs(root, image.layer_digests)[1]);
    }
    SECTION("the config's diffID is not the layer's") {
        std::vector<std::string> diff_ids = {sha256(base), sha256("not the layer")};
        TestImage image({base, good}, nlohmann::json::object(), "amd64", diff_ids);
        registry.push(image.dir.path(), "test/diffid");
        auto pulled = hutch_cmd(root, {"pull", registry.address() + "/test/diffid:latest"});
        check_one_line_failure(pulled);
        CHECK(pulled.err.find("diffID is " + image.layer_digest) != std::string::npos);
        check_nothing_left(root, image.layer_digest, layer_dirs(root, diff_ids)[1]);
    }
    SECTION("a hostile entry") {
        std::string hostile =
            make_layer({{.name = "good.txt", .content = good}, {.name = "../escape", .content = "x"}});
        TestImage image({base, hostile}, nlohmann::json::object(), "amd64");
        registry.push(image.dir.path(), "test/hostile");
        auto pulled = hutch_cmd(root, {"pull", registry.address() + "/test/hostile:latest"});
        check_one_line_failure(pulled);
        CHECK(pulled.err.find("leads out of the layer root") != std::string::npos);
        check_nothing_left(root, image.layer_digest, layer_dirs(root, image.layer_digests)[1]);
        CHECK_FALSE(path_exists(root.path() + "/storage/layers/escape"));
    }
}

TEST_CASE("hutch pull: a layer is unpacked while its download is still under way", "[hutch-pull]") {
    // The layer's first file comes in its first KiB; then 8 MiB that the relay holds back.
    std::string layer = make_layer({{.name = "first.txt", .content = "first\n"},
                                    {.name = "rest.bin", .content = random_bytes(8 << 20)}});
    TestImage image({layer}, nlohmann::json::object(), "amd64");
    LocalRegistry registry;
    registry.push(image.dir.path(), "test/overlap");
    // The pull's registry is the relay (loopback, so plain HTTP).
    GatedProxy relay(std::stoi(registry.address().substr(registry.address().find(':') + 1)), 1 << 20);
    TempDir root;

    CommandResult pulled;
    bool seen_during_download = false;
    {
        std::jthread pull([&] {
            pulled = hutch_cmd(root, {"pull", relay.address() + "/test/overlap:latest"});
        });
        // What the unpack made while the relay holds the rest of the blob: the layer's first
        // file in its temporary directory, the blob not whole (its ingest file short of its size).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!seen_during_download && std::chrono::steady_clock::now() < deadline) {
            if (relay.holding()) {
                for (const auto& temp : temp_layer_dirs(root)) {
                    if (!path_exists(temp + "/diff/first.txt")) continue;
                    // error_code everywhere: nothing here may throw while the relay holds the pull.
                    std::error_code ec;
                    for (const auto& entry : fs::directory_iterator(root.path() + "/storage/ingest", ec)) {
                        std::error_code size_ec;
                        auto size = fs::file_size(entry.path(), size_ec);
                        if (!size_ec && size < layer.size()) seen_during_download = true;
                    }
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        relay.release();  // the jthread joins the pull when it goes
    }
    check_ok(pulled);
    CHECK(seen_during_download);
    auto dir = layer_dirs(root, image.layer_digests)[0];
    CHECK(read_text(dir + "/diff/first.txt") == "first");
    CHECK(fs::file_size(dir + "/diff/rest.bin") == 8 << 20);
    CHECK(temp_layer_dirs(root).empty());
}

TEST_CASE("hutch image prune removes what a killed pull left, and keeps what a live pull is making",
          "[hutch-pull]") {
    std::string layer = make_layer({{.name = "first.txt", .content = "first\n"},
                                    {.name = "rest.bin", .content = random_bytes(8 << 20)}});
    TestImage image({layer}, nlohmann::json::object(), "amd64");
    LocalRegistry registry;
    registry.push(image.dir.path(), "test/killed");
    GatedProxy relay(std::stoi(registry.address().substr(registry.address().find(':') + 1)), 1 << 20);
    TempDir root;
    std::string reference = relay.address() + "/test/killed:latest";

    CommandResult pulled, live_prune, dead_prune;
    size_t temps_live = 0, ingest_live = 0, temps_dead = 0, ingest_dead = 0;
    {
        std::jthread pull([&] { pulled = hutch_cmd(root, {"pull", reference}); });
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!(relay.holding() && !temp_layer_dirs(root).empty() && ingest_files(root) > 0) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // The pull is alive, held by the relay: what it is making stays.
        live_prune = hutch_cmd(root, {"image", "prune", "-a"});
        temps_live = temp_layer_dirs(root).size();
        ingest_live = ingest_files(root);
        // Killed halfway, as by the OOM killer or a power cut of its terminal.
        for (pid_t pid : processes_mentioning(root.path() + "/storage")) kill(pid, SIGKILL);
        relay.release();
    }
    CHECK(pulled.status == 128 + SIGKILL);
    check_ok(live_prune);
    CHECK(temps_live == 1);
    CHECK(ingest_live == 1);
    temps_dead = temp_layer_dirs(root).size();
    ingest_dead = ingest_files(root);
    CHECK(temps_dead == 1);  // left behind by the killed pull
    CHECK(ingest_dead == 1);

    dead_prune = hutch_cmd(root, {"image", "prune", "-a"});
    check_ok(dead_prune);
    CHECK(temp_layer_dirs(root).empty());
    CHECK(ingest_files(root) == 0);
    // And the store is whole: a new pull completes.
    check_ok(hutch_cmd(root, {"pull", reference}));
    CHECK(read_text(layer_dirs(root, image.layer_digests)[0] + "/diff/first.txt") == "first");
}
