// The `hutch` command as a person runs it: pull from a real registry (Debian's docker-registry on
// 127.0.0.1, the image pushed with skopeo), images, load and rmi, each with a --storage-root of the
// test's own; and bad input, which must give one line on stderr and status 125.

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "harness.h"
#include "hutch_command.h"
#include "images/layer_store.h"
#include "images/oci_documents.h"
#include "images_layers.h"
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

// An OCI layout whose "latest" is an image index of the given images, each for its platform
// (linux/ARCH), holding every blob of theirs.
struct MultiPlatformLayout {
    MultiPlatformLayout(const std::vector<std::pair<const TestImage*, std::string>>& images) {
        nlohmann::json manifests = nlohmann::json::array();
        fs::create_directories(dir.path() + "/blobs/sha256");
        for (const auto& [image, architecture] : images) {
            fs::copy(image->dir.path() + "/blobs/sha256", dir.path() + "/blobs/sha256",
                     fs::copy_options::skip_existing | fs::copy_options::recursive);
            manifests.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                 {"digest", image->manifest_digest},
                                 {"size", image->manifest.size()},
                                 {"platform", {{"architecture", architecture}, {"os", "linux"}}}});
        }
        std::string index = nlohmann::json{
            {"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.index.v1+json"},
            {"manifests",
             manifests}}.dump();
        std::string digest = hutch::images::digest_of(index).value().str();
        std::ofstream(dir.path() + "/blobs/sha256/" + digest.substr(7)) << index;
        std::ofstream(dir.path() + "/index.json")
            << nlohmann::json{{"schemaVersion", 2},
                              {"manifests",
                               {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                 {"digest", digest},
                                 {"size", index.size()},
                                 {"annotations", {{"org.opencontainers.image.ref.name", "latest"}}}}}}}
                   .dump();
        std::ofstream(dir.path() + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    }
    TempDir dir{"hutch-oci-index"};
};

// True once a file in dir has more than size bytes (a blob that is well under way).
bool has_file_larger_than(const std::string& dir, uintmax_t size) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::error_code size_ec;
        auto n = fs::file_size(entry.path(), size_ec);
        if (!size_ec && n > size) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("hutch pull: cut off by the registry's end, completed by a second pull", "[hutch-cli][bulk]") {
    LocalRegistry registry;
    std::string small = make_layer(
        {{.name = "etc", .type = AE_IFDIR, .mode = 0755}, {.name = "etc/small.txt", .content = "small\n"}});
    // 48 MiB that do not compress: the registry is killed while most of it is still to come.
    std::string big = make_layer({{.name = "big.bin", .content = random_bytes(48 << 20)}});
    TestImage image({small, big}, nlohmann::json::object(), "amd64");
    big.clear();
    registry.push(image.dir.path(), "test/cut");
    TempDir root;
    std::string name = registry.address() + "/test/cut:latest";

    std::atomic<bool> done = false;
    std::thread killer([&] {
        while (!done) {
            if (has_file_larger_than(root.path() + "/storage/ingest", 1 << 20)) {
                kill(registry.pid(), SIGKILL);
                return;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    auto first = hutch_cmd(root, {"pull", name});
    done = true;
    killer.join();
    check_one_line_failure(first);
    CHECK(images_json(root).empty());  // an image is named only once it is whole
    std::string blobs = root.path() + "/storage/blobs/sha256";
    CHECK(fs::is_empty(root.path() + "/storage/ingest"));
    CHECK_FALSE(path_exists(blobs + "/" + image.layer_digest.substr(7)));
    // The big layer was being unpacked as it came: nothing of it is left in the layer store.
    std::vector<hutch::images::Digest> diff_ids;
    for (const auto& d : image.layer_digests) diff_ids.push_back(hutch::images::parse_digest(d).value());
    auto chain = hutch::images::chain_ids(diff_ids).value();
    std::string layers = root.path() + "/storage/layers/";
    CHECK_FALSE(path_exists(layers + chain[1].hex));
    auto layer_store_names = [&] {
        std::set<std::string> names;
        for (const auto& entry : fs::directory_iterator(layers)) names.insert(entry.path().filename());
        return names;
    };
    for (const auto& name : layer_store_names()) CHECK_FALSE(name.starts_with("."));
    auto kept = file_stamps(blobs);

    registry.restart();
    auto second = hutch_cmd(root, {"pull", name});
    check_ok(second);
    CHECK(second.out == image.manifest_digest + "\n");
    for (const auto& digest : {image.layer_digests[0], image.layer_digests[1], image.config_digest})
        CHECK(path_exists(blobs + "/" + digest.substr(7)));
    // What the first pull stored was not fetched again.
    auto now = file_stamps(blobs);
    for (const auto& [path, stamp] : kept) CHECK(now.at(path) == stamp);
    CHECK(images_json(root).size() == 1);
    CHECK(layer_store_names() == std::set<std::string>{chain[0].hex, chain[1].hex});
}

TEST_CASE("hutch pull: from a multi-platform index, this host's platform or --platform's", "[hutch-cli]") {
    TestImage amd64({make_layer({{.name = "arch", .content = "amd64\n"}})}, nlohmann::json::object(),
                    "amd64");
    TestImage arm64({make_layer({{.name = "arch", .content = "arm64\n"}})}, nlohmann::json::object(),
                    "arm64");
    MultiPlatformLayout layout({{&amd64, "amd64"}, {&arm64, "arm64"}});
    LocalRegistry registry;
    registry.push(layout.dir.path(), "test/multi");
    std::string name = registry.address() + "/test/multi:latest";
    TempDir root;

    std::string host = hutch::images::host_platform().architecture;
    if (host == "amd64" || host == "arm64") {
        auto pulled = hutch_cmd(root, {"pull", name});
        check_ok(pulled);
        CHECK(pulled.out == (host == "amd64" ? amd64 : arm64).manifest_digest + "\n");
    } else {
        WARN("this host (" << host
                           << ") is neither of the index's platforms: its default pull is not checked");
    }
    auto arm = hutch_cmd(root, {"pull", "--platform", "linux/arm64", name});
    check_ok(arm);
    CHECK(arm.out == arm64.manifest_digest + "\n");
    CHECK(images_json(root)[0]["digest"] == arm64.manifest_digest);
    auto amd = hutch_cmd(root, {"pull", "--platform", "linux/amd64", name});
    check_ok(amd);
    CHECK(amd.out == amd64.manifest_digest + "\n");
    CHECK(images_json(root)[0]["digest"] == amd64.manifest_digest);
    check_one_line_failure(hutch_cmd(root, {"pull", "--platform", "linux/s390x", name}));
}

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

TEST_CASE("hutch: a malformed reference, an unknown image, no registry: one line, status 125",
          "[hutch-cli]") {
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
