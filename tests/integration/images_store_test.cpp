// images/oci_layout.h, image_store.h and layer_store.h as root, end to end: a two-layer OCI layout
// written here (the second layer whites out a file of the first) is imported from a directory and
// from a tar archive; a blob that does not match its digest is refused; each layer is unpacked once
// by chain ID and shared between images; overlayfs over the lower dirs shows the merged tree; a
// diffID that does not match the config leaves nothing behind; two processes preparing one image
// end with one copy.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_layout.h"
#include "images_layers.h"

using namespace hutch;
using namespace hutch::images;
using namespace hutch::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
const std::string kTar = "application/vnd.oci.image.layer.v1.tar";

std::string sha(const std::string& data) { return digest_of(data).value().str(); }

struct TestLayer {
    std::string media_type;
    std::string bytes;    // as stored (compressed or not)
    std::string diff_id;  // sha256 of the uncompressed tar
};

TestLayer layer(const std::vector<LayerEntry>& entries, LayerCompression compression) {
    return TestLayer{compression == LayerCompression::gzip ? kTarGzip : kTar,
                     make_layer(entries, compression), sha(make_layer(entries, LayerCompression::none))};
}

// L1: a base tree. L2 (gzip): whites out etc/hostname and adds etc/added. L3: another top.
TestLayer base_layer() {
    return layer({{.name = "etc", .type = AE_IFDIR, .mode = 0755},
                  {.name = "etc/hostname", .content = "base\n"},
                  {.name = "etc/keep", .content = "keep\n"},
                  {.name = "bin", .type = AE_IFDIR, .mode = 0755},
                  {.name = "bin/tool", .mode = 0755, .content = "tool\n"}},
                 LayerCompression::none);
}
TestLayer whiteout_layer() {
    return layer({{.name = "etc/.wh.hostname", .content = ""}, {.name = "etc/added", .content = "added\n"}},
                 LayerCompression::gzip);
}
TestLayer other_layer() { return layer({{.name = "other", .content = "three\n"}}, LayerCompression::none); }

// An OCI layout directory written blob by blob, with index.json listing each image added.
class Layout {
public:
    explicit Layout(std::string dir) : dir_(std::move(dir)) {
        fs::create_directories(dir_ + "/blobs/sha256");
    }
    const std::string& dir() const { return dir_; }

    json blob(const std::string& media_type, const std::string& data) {
        std::string digest = sha(data);
        std::ofstream(dir_ + "/blobs/sha256/" + digest.substr(7), std::ios::binary) << data;
        return {{"mediaType", media_type}, {"digest", digest}, {"size", data.size()}};
    }
    std::string blob_file(const std::string& digest) const {
        return dir_ + "/blobs/sha256/" + digest.substr(7);
    }

    // Adds an image of layers; diff_ids are the config's (the layers' own unless given). Returns
    // the manifest digest.
    std::string image(const std::string& name, const std::vector<TestLayer>& layers,
                      std::vector<std::string> diff_ids = {}) {
        json layer_descriptors = json::array();
        for (const auto& l : layers) {
            layer_descriptors.push_back(blob(l.media_type, l.bytes));
            if (diff_ids.size() < layers.size()) diff_ids.push_back(l.diff_id);
        }
        json config = {{"architecture", "amd64"},
                       {"os", "linux"},
                       {"config", {{"Cmd", {"/bin/tool"}}}},
                       {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
        json manifest = {{"schemaVersion", 2},
                         {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"config", blob("application/vnd.oci.image.config.v1+json", config.dump())},
                         {"layers", layer_descriptors}};
        json descriptor = blob("application/vnd.oci.image.manifest.v1+json", manifest.dump());
        descriptor["annotations"] = {{"org.opencontainers.image.ref.name", name}};
        index_.push_back(descriptor);
        std::ofstream(dir_ + "/index.json") << json{{"schemaVersion", 2}, {"manifests", index_}}.dump();
        std::ofstream(dir_ + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
        return descriptor["digest"];
    }

private:
    std::string dir_;
    json index_ = json::array();
};

// A store root with its three parts open.
struct Store {
    explicit Store(const std::string& root)
        : content(ContentStore::open(root).value()),
          images(ImageStore::open(root).value()),
          layers(LayerStore::open(content).value()) {}
    ContentStore content;
    ImageStore images;
    LayerStore layers;
};

bool stored(const ContentStore& content, const std::string& digest) {
    return content.has(parse_digest(digest).value()).value();
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}

std::string chain_hex(const std::vector<TestLayer>& layers) {
    std::vector<Digest> diff_ids;
    for (const auto& l : layers) diff_ids.push_back(parse_digest(l.diff_id).value());
    return chain_ids(diff_ids).value().back().hex;
}

std::string make_archive(const std::string& layout_dir, const std::string& archive) {
    auto result = run_command({"tar", "-C", layout_dir, "-cf", archive, "."});
    REQUIRE(result.status == 0);
    return archive;
}

ino_t inode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st.st_ino;
}

}  // namespace

TEST_CASE("layout import: a directory's blobs go into the content store, its name into images.json",
          "[images]") {
    TempDir dir("hutch-test-layout");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer();
    std::string manifest = layout.image("localhost/test:one", {l1, l2});
    Store store(dir.path() + "/store");

    auto imported = import_oci_layout(store.content, store.images, layout.dir());
    REQUIRE(imported);
    REQUIRE(imported->size() == 1);
    CHECK((*imported)[0].name == "localhost/test:one");
    CHECK((*imported)[0].manifest.str() == manifest);
    CHECK(store.images.resolve("localhost/test:one").value().str() == manifest);
    CHECK(stored(store.content, manifest));
    CHECK(stored(store.content, sha(l1.bytes)));
    CHECK(stored(store.content, sha(l2.bytes)));
    // The manifest, the config and the two layers: nothing else.
    CHECK(names_in(dir.path() + "/store/blobs/sha256").size() == 4);
    CHECK(names_in(dir.path() + "/store/ingest").empty());

    // A second import of the same layout changes nothing and succeeds.
    REQUIRE(import_oci_layout(store.content, store.images, layout.dir()));
    // A given name replaces the layout's.
    REQUIRE(import_oci_layout(store.content, store.images, layout.dir(), {.name = "busybox"}));
    CHECK(store.images.resolve("docker.io/library/busybox:latest").value().str() == manifest);
}

TEST_CASE("layout import: an OCI archive is read in place", "[images]") {
    TempDir dir("hutch-test-layout");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer();
    std::string manifest = layout.image("localhost/test:one", {l1, l2});
    std::string archive = make_archive(layout.dir(), dir.path() + "/image.tar");
    fs::remove_all(layout.dir());  // the archive alone must do
    Store store(dir.path() + "/store");

    auto imported = import_oci_archive(store.content, store.images, archive);
    INFO((imported ? "" : imported.error().message));
    REQUIRE(imported);
    CHECK(store.images.resolve("localhost/test:one").value().str() == manifest);
    CHECK(stored(store.content, sha(l1.bytes)));
    CHECK(stored(store.content, sha(l2.bytes)));
    CHECK(names_in(dir.path() + "/store/blobs/sha256").size() == 4);

    auto missing = import_oci_archive(store.content, store.images, dir.path() + "/none.tar");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("none.tar") != std::string::npos);
}

TEST_CASE("layout import: a blob whose bytes do not match its digest is refused and not stored", "[images]") {
    TempDir dir("hutch-test-layout");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer();
    layout.image("localhost/test:one", {l1, l2});
    // The same size, one byte changed: only the digest can tell.
    std::string bad = l2.bytes;
    bad[bad.size() / 2] ^= 0x55;
    std::ofstream(layout.blob_file(sha(l2.bytes)), std::ios::binary) << bad;
    std::string archive = make_archive(layout.dir(), dir.path() + "/image.tar");

    for (bool from_archive : {false, true}) {
        Store store(dir.path() + (from_archive ? "/store-archive" : "/store-dir"));
        auto imported = from_archive ? import_oci_archive(store.content, store.images, archive)
                                     : import_oci_layout(store.content, store.images, layout.dir());
        REQUIRE_FALSE(imported);
        INFO(imported.error().message);
        CHECK(imported.error().message.find(sha(l2.bytes)) != std::string::npos);
        CHECK(imported.error().message.find('\n') == std::string::npos);
        CHECK_FALSE(stored(store.content, sha(l2.bytes)));
        CHECK_FALSE(store.images.resolve("localhost/test:one"));
        CHECK(names_in(store.content.root() + "/ingest").empty());
    }
}

TEST_CASE("layer store: layers are unpacked once, top first, and shared between images", "[images]") {
    TempDir dir("hutch-test-layers");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer(), l3 = other_layer();
    std::string one = layout.image("localhost/test:one", {l1, l2});
    std::string two = layout.image("localhost/test:two", {l1, l3});
    Store store(dir.path() + "/store");
    REQUIRE(import_oci_layout(store.content, store.images, layout.dir()));

    auto lowers = store.layers.prepare_image(parse_digest(one).value());
    INFO((lowers ? "" : lowers.error().message));
    REQUIRE(lowers);
    REQUIRE(lowers->size() == 2);
    std::string layers = dir.path() + "/store/layers";
    CHECK((*lowers)[0] == layers + "/" + chain_hex({l1, l2}) + "/diff");
    CHECK((*lowers)[1] == layers + "/" + l1.diff_id.substr(7) + "/diff");
    CHECK(read_text((*lowers)[1] + "/etc/hostname") == "base");
    CHECK(read_text((*lowers)[0] + "/etc/added") == "added");
    struct stat whiteout {};
    REQUIRE(lstat(((*lowers)[0] + "/etc/hostname").c_str(), &whiteout) == 0);
    CHECK(S_ISCHR(whiteout.st_mode));
    CHECK(whiteout.st_rdev == makedev(0, 0));
    ino_t shared = inode_of((*lowers)[1] + "/etc/keep");

    // With the shared layer's blob gone, image two can be prepared only by reusing the layer.
    REQUIRE(store.content.remove(parse_digest(sha(l1.bytes)).value()));
    auto lowers_two = store.layers.prepare_image(parse_digest(two).value());
    INFO((lowers_two ? "" : lowers_two.error().message));
    REQUIRE(lowers_two);
    REQUIRE(lowers_two->size() == 2);
    CHECK((*lowers_two)[1] == (*lowers)[1]);
    CHECK(inode_of((*lowers_two)[1] + "/etc/keep") == shared);
    CHECK(read_text((*lowers_two)[0] + "/other") == "three");
    CHECK(names_in(layers).size() == 3);  // L1, L1+L2, L1+L3; no temporary directory

    // Preparing again unpacks nothing (it would need the removed blob) and gives the same dirs.
    CHECK(store.layers.prepare_image(parse_digest(one).value()).value() == *lowers);
}

TEST_CASE("layer store: overlayfs over the lower dirs shows the merged tree, whiteout applied", "[images]") {
    TempDir dir("hutch-test-layers");
    Layout layout(dir.path() + "/layout");
    std::string one = layout.image("localhost/test:one", {base_layer(), whiteout_layer()});
    Store store(dir.path() + "/store");
    REQUIRE(import_oci_layout(store.content, store.images, layout.dir()));
    auto lowers = store.layers.prepare_image(parse_digest(one).value());
    REQUIRE(lowers);
    std::string merged = dir.path() + "/merged";
    fs::create_directory(merged);
    std::string options = "lowerdir=" + (*lowers)[0] + ":" + (*lowers)[1];

    // The mount lives in a child's own mount namespace: nothing is left mounted on the host,
    // whatever the checks find. Each failed check sets one bit of the exit status.
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            _exit(64);
        if (mount("overlay", merged.c_str(), "overlay", MS_RDONLY, options.c_str()) != 0) _exit(65);
        int failed = 0;
        if (path_exists(merged + "/etc/hostname")) failed |= 1;
        if (read_text(merged + "/etc/keep") != "keep") failed |= 2;
        if (read_text(merged + "/etc/added") != "added") failed |= 4;
        if (read_text(merged + "/bin/tool") != "tool") failed |= 8;
        if (access((merged + "/bin/tool").c_str(), X_OK) != 0) failed |= 16;
        _exit(failed);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(host_mounts_matching(merged).empty());
    // The lower dirs themselves are unchanged: the whiteout is still overlayfs's device.
    CHECK(read_text((*lowers)[1] + "/etc/hostname") == "base");
}

TEST_CASE("layer store: a diffID that does not match the config is refused and leaves no layer", "[images]") {
    TempDir dir("hutch-test-layers");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer();
    // The config claims L1's diffID is L2's.
    std::string lying = layout.image("localhost/test:lying", {l1, l2}, {l2.diff_id, l2.diff_id});
    Store store(dir.path() + "/store");
    REQUIRE(import_oci_layout(store.content, store.images, layout.dir()));

    auto lowers = store.layers.prepare_image(parse_digest(lying).value());
    REQUIRE_FALSE(lowers);
    INFO(lowers.error().message);
    CHECK(lowers.error().message.find("diffID") != std::string::npos);
    CHECK(lowers.error().message.find(l1.diff_id) != std::string::npos);
    CHECK(names_in(dir.path() + "/store/layers").empty());
}

TEST_CASE("layer store: two processes preparing one image at once end with one good copy", "[images]") {
    TempDir dir("hutch-test-layers");
    Layout layout(dir.path() + "/layout");
    auto l1 = base_layer(), l2 = whiteout_layer();
    std::string one = layout.image("localhost/test:one", {l1, l2});
    std::string root = dir.path() + "/store";
    {
        Store store(root);
        REQUIRE(import_oci_layout(store.content, store.images, layout.dir()));
    }
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
        pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            auto content = ContentStore::open(root);
            if (!content) _exit(2);
            auto layers = LayerStore::open(*content);
            if (!layers) _exit(3);
            auto lowers = layers->prepare_image(parse_digest(one).value());
            _exit(lowers && lowers->size() == 2 ? 0 : 1);
        }
        children.push_back(child);
    }
    for (pid_t child : children) {
        int status = 0;
        REQUIRE(waitpid(child, &status, 0) == child);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    auto names = names_in(root + "/layers");
    std::vector<std::string> expected = {chain_hex({l1, l2}), l1.diff_id.substr(7)};
    std::sort(expected.begin(), expected.end());
    CHECK(names == expected);
    CHECK(read_text(root + "/layers/" + l1.diff_id.substr(7) + "/diff/etc/keep") == "keep");
}
