// images/registry_client.h against a real registry (Debian's docker-registry on 127.0.0.1, the
// image pushed with skopeo): manifests by tag and digest, blobs into the content store with
// their digests checked, basic auth with credentials from an auth.json, and a registry that
// dies halfway through a blob, which leaves nothing half-stored.
#include "images_registry.h"

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/file.h"
#include "images/content_store.h"
#include "images/registry_client.h"

using namespace hutch;
using namespace hutch::images;
using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

const char* const kOciManifest = "application/vnd.oci.image.manifest.v1+json";

Digest digest(const std::string& text) {
    auto d = parse_digest(text);
    REQUIRE(d);
    return *d;
}

ContentStore open_store(const TempDir& dir) {
    auto store = ContentStore::open(dir.path() + "/store");
    REQUIRE(store);
    return std::move(*store);
}

size_t entries_in(const std::string& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
    return n;
}

std::string blob_text(const ContentStore& store, const std::string& digest_text) {
    auto fd = store.open_blob(digest(digest_text));
    REQUIRE(fd);
    auto text = read_all(fd->get());
    REQUIRE(text);
    return *text;
}

RegistryClient client_for(const LocalRegistry& registry, const std::string& auth_file = "") {
    auto client = RegistryClient::create(registry.address(), {{}, auth_file});
    REQUIRE(client);
    return std::move(*client);
}

void check_one_line(const Error& error) {
    INFO(error.message);
    CHECK(error.message.find('\n') == std::string::npos);
    CHECK_FALSE(error.message.empty());
}

}  // namespace

TEST_CASE("registry: manifests by tag and by digest, every blob into the content store",
          "[images][registry]") {
    LocalRegistry registry;
    TestImage image("hello from the registry test\n");
    registry.push(image.dir.path(), "test/small", "v1");
    TempDir dir;
    auto store = open_store(dir);
    auto client = client_for(registry);

    auto by_tag = client.fetch_manifest("test/small", "v1");
    INFO((by_tag ? "" : by_tag.error().message));
    REQUIRE(by_tag);
    CHECK(by_tag->bytes == image.manifest);
    CHECK(by_tag->media_type == kOciManifest);
    CHECK(by_tag->digest.str() == image.manifest_digest);

    auto by_digest = client.fetch_manifest("test/small", image.manifest_digest);
    REQUIRE(by_digest);
    CHECK(by_digest->bytes == image.manifest);
    CHECK(by_digest->digest.str() == image.manifest_digest);

    for (const auto* blob : {&image.config, &image.layer}) {
        std::string d = blob == &image.config ? image.config_digest : image.layer_digest;
        auto fetched = client.fetch_blob("test/small", digest(d), blob->size(), store);
        INFO((fetched ? "" : fetched.error().message));
        REQUIRE(fetched);
        CHECK(blob_text(store, d) == *blob);
    }
    CHECK(entries_in(store.root() + "/ingest") == 0);

    auto unknown = client.fetch_manifest("test/small", "nope");
    REQUIRE_FALSE(unknown);
    check_one_line(unknown.error());
    CHECK(unknown.error().message.find("MANIFEST_UNKNOWN") != std::string::npos);
    CHECK(unknown.error().message.starts_with(registry.address() + "/test/small:nope: manifest: HTTP 404"));
}

TEST_CASE("registry: a wrong digest or size fails and stores nothing", "[images][registry]") {
    LocalRegistry registry;
    TestImage image("digest test\n");
    registry.push(image.dir.path(), "test/digest");
    TempDir dir;
    auto store = open_store(dir);
    auto client = client_for(registry);

    // A digest the registry does not have.
    auto other = digest_of("not in the registry");
    REQUIRE(other);
    auto missing = client.fetch_blob("test/digest", *other, 19, store);
    REQUIRE_FALSE(missing);
    check_one_line(missing.error());
    CHECK(missing.error().message.find("HTTP 404") != std::string::npos);
    // The right digest with the wrong size: the bytes that come are not the blob asked for.
    auto short_size =
        client.fetch_blob("test/digest", digest(image.layer_digest), image.layer.size() - 1, store);
    REQUIRE_FALSE(short_size);
    check_one_line(short_size.error());
    auto long_size =
        client.fetch_blob("test/digest", digest(image.layer_digest), image.layer.size() + 1, store);
    REQUIRE_FALSE(long_size);
    check_one_line(long_size.error());
    CHECK(entries_in(store.root() + "/blobs/sha256") == 0);
    CHECK(entries_in(store.root() + "/ingest") == 0);

    // A manifest asked by a digest it does not have: refused, whatever the registry answers.
    auto wrong_manifest = client.fetch_manifest("test/digest", image.config_digest);
    REQUIRE_FALSE(wrong_manifest);
    check_one_line(wrong_manifest.error());
}

TEST_CASE("registry: basic auth, credentials from an auth.json", "[images][registry]") {
    LocalRegistry registry({.user = "user", .password = "pass"});
    TestImage image("auth test\n");
    registry.push(image.dir.path(), "test/private");
    TempDir dir;
    auto store = open_store(dir);

    auto anonymous = client_for(registry).fetch_manifest("test/private", "latest");
    REQUIRE_FALSE(anonymous);
    check_one_line(anonymous.error());
    CHECK(anonymous.error().message.find("authentication required, and no credentials for " +
                                         registry.address()) != std::string::npos);

    auto write_auth = [&](const std::string& file, const std::string& user_pass) {
        std::ofstream(dir.path() + "/" + file) << R"({"auths": {")" + registry.address() +
                                                      R"(": {"auth": ")" + base64_encode(user_pass) +
                                                      R"("}}})";
        return dir.path() + "/" + file;
    };
    auto refused =
        client_for(registry, write_auth("wrong.json", "user:wrong")).fetch_manifest("test/private", "latest");
    REQUIRE_FALSE(refused);
    check_one_line(refused.error());
    CHECK(refused.error().message.find("authentication refused") != std::string::npos);

    auto client = client_for(registry, write_auth("auth.json", "user:pass"));
    auto manifest = client.fetch_manifest("test/private", "latest");
    INFO((manifest ? "" : manifest.error().message));
    REQUIRE(manifest);
    CHECK(manifest->bytes == image.manifest);
    auto blob = client.fetch_blob("test/private", digest(image.layer_digest), image.layer.size(), store);
    INFO((blob ? "" : blob.error().message));
    REQUIRE(blob);
    CHECK(blob_text(store, image.layer_digest) == image.layer);
}

TEST_CASE("registry: killed halfway through a blob, or gone, leaves nothing half-stored",
          "[images][registry][bulk]") {
    LocalRegistry registry;
    // 48 MiB that do not compress: more than loopback's socket buffers hold, so the registry is
    // killed while the client still has most of the blob to read.
    std::string big(48 << 20, '\0');
    {
        std::ifstream random("/dev/urandom", std::ios::binary);
        random.read(big.data(), static_cast<std::streamsize>(big.size()));
        REQUIRE(random.good());
    }
    TestImage image(big);
    big.clear();
    registry.push(image.dir.path(), "test/big");
    TempDir dir;
    auto store = open_store(dir);
    auto client = client_for(registry);

    // Kills the registry as soon as the blob's first bytes reach the store's ingest/.
    std::atomic<bool> stop_watching = false;
    std::thread killer([&] {
        while (!stop_watching) {
            if (entries_in(store.root() + "/ingest") > 0) {
                kill(registry.pid(), SIGKILL);
                return;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    auto fetched = client.fetch_blob("test/big", digest(image.layer_digest), image.layer.size(), store);
    stop_watching = true;
    killer.join();
    registry.stop();
    REQUIRE_FALSE(fetched);
    check_one_line(fetched.error());
    CHECK(fetched.error().message.find(image.layer_digest) != std::string::npos);
    CHECK(entries_in(store.root() + "/ingest") == 0);
    CHECK(entries_in(store.root() + "/blobs/sha256") == 0);

    // Nothing listens there any more: refused at once, with the URL in the error.
    auto gone = client.fetch_blob("test/big", digest(image.config_digest), image.config.size(), store);
    REQUIRE_FALSE(gone);
    check_one_line(gone.error());
    CHECK(gone.error().message.find("http://" + registry.address() + "/v2/test/big/blobs/") !=
          std::string::npos);
    auto gone_manifest = client.fetch_manifest("test/big", "latest");
    REQUIRE_FALSE(gone_manifest);
    check_one_line(gone_manifest.error());
    CHECK(entries_in(store.root() + "/ingest") == 0);
}
