// images/reference.h and images/image_store.h: references normalise as docker and podman do,
// malformed ones are refused, and images.json keeps names across tag, resolve, list and untag.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "images/image_store.h"

using namespace hutch;
using namespace hutch::images;
namespace fs = std::filesystem;

namespace {

std::string normal(std::string_view reference) {
    auto result = normalize_reference(reference);
    INFO(reference);
    REQUIRE(result);
    return *result;
}

void refused(std::string_view reference) {
    auto result = normalize_reference(reference);
    INFO(reference);
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find('\n') == std::string::npos);
}

class StoreDir {
public:
    StoreDir() {
        char name[] = "/tmp/hutch-unit-images-XXXXXX";
        REQUIRE(::mkdtemp(name));
        dir_ = name;
    }
    ~StoreDir() { fs::remove_all(dir_); }
    StoreDir(const StoreDir&) = delete;
    StoreDir& operator=(const StoreDir&) = delete;
    std::string root() const { return dir_ + "/store"; }

private:
    std::string dir_;
};

const std::string kDigest = "sha256:" + std::string(64, 'a');

}  // namespace

TEST_CASE("references: short names get docker.io, library/ and :latest", "[images]") {
    CHECK(normal("busybox") == "docker.io/library/busybox:latest");
    CHECK(normal("busybox:1.36") == "docker.io/library/busybox:1.36");
    CHECK(normal("library/busybox") == "docker.io/library/busybox:latest");
    CHECK(normal("docker.io/busybox") == "docker.io/library/busybox:latest");
    CHECK(normal("index.docker.io/busybox") == "docker.io/library/busybox:latest");
    CHECK(normal("someone/tool") == "docker.io/someone/tool:latest");
    CHECK(normal("localhost/busybox:latest") == "localhost/busybox:latest");
    CHECK(normal("localhost/busybox") == "localhost/busybox:latest");
    CHECK(normal("localhost:5000/a/b:v1") == "localhost:5000/a/b:v1");
    CHECK(normal("quay.io/org/app") == "quay.io/org/app:latest");
    CHECK(normal("registry.example.com:443/x_y/a-b.c__d") == "registry.example.com:443/x_y/a-b.c__d:latest");
    CHECK(normal("a---b") == "docker.io/library/a---b:latest");
}

TEST_CASE("references: a digest is kept, and no tag is added beside it", "[images]") {
    std::string digest = "sha256:" + std::string(64, 'e');
    CHECK(normal("busybox@" + digest) == "docker.io/library/busybox@" + digest);
    CHECK(normal("quay.io/a/b:1@" + digest) == "quay.io/a/b:1@" + digest);
}

TEST_CASE("references: malformed ones are refused", "[images]") {
    refused("");
    refused("Busybox");       // uppercase in the repository
    refused("busybox:");      // empty tag
    refused("busybox:-bad");  // tag starts with "-"
    refused("busybox:" + std::string(129, 'a'));
    refused("busybox@sha256:abc");  // digest too short
    refused("busybox@md5:" + std::string(32, 'a'));
    refused("a//b");
    refused("a/b/");
    refused("-a");
    refused("a..b");
    refused("a_-b");
    refused("bad_host.example.com/x");  // "_" in a host name
    refused("example.com:port/x");
    refused(std::string(64, 'f'));  // reads as an image ID
    refused("docker.io/" + std::string(250, 'a'));
    refused("busy box");
}

TEST_CASE("image store: tag, resolve, list and untag names in images.json", "[images]") {
    StoreDir dir;
    auto store = ImageStore::open(dir.root());
    REQUIRE(store);
    auto digest = parse_digest(kDigest).value();
    auto other = parse_digest("sha256:" + std::string(64, 'b')).value();
    REQUIRE(store->tag("busybox", digest));
    REQUIRE(store->tag("localhost/app:1", other));
    CHECK(store->resolve("docker.io/library/busybox:latest").value() == digest);
    CHECK(store->resolve("busybox:latest").value() == digest);
    CHECK(store->resolve(kDigest).value() == digest);
    CHECK_FALSE(store->resolve("busybox:other"));

    // Another store opened on the same root sees the same names: they are on disk.
    auto again = ImageStore::open(dir.root());
    REQUIRE(again);
    auto names = again->list();
    REQUIRE(names);
    CHECK(names->size() == 2);
    CHECK(names->at("localhost/app:1") == other);

    REQUIRE(store->tag("busybox", other));  // a tag moves
    CHECK(again->resolve("busybox").value() == other);
    REQUIRE(again->untag("busybox"));
    CHECK_FALSE(store->resolve("busybox"));
    CHECK_FALSE(store->untag("busybox"));
    CHECK(store->list()->size() == 1);
    CHECK_FALSE(fs::exists(dir.root() + "/images.json.tmp"));
}

TEST_CASE("image store: a corrupt images.json is an error, not a crash", "[images]") {
    StoreDir dir;
    auto store = ImageStore::open(dir.root());
    REQUIRE(store);
    for (std::string text : {"{", "[]", R"({"images": {"a": 3}})", R"({"images": {"a": "sha256:x"}})"}) {
        std::ofstream(dir.root() + "/images.json") << text;
        auto names = store->list();
        INFO(text);
        REQUIRE_FALSE(names);
        CHECK(names.error().message.find("images.json") != std::string::npos);
        CHECK_FALSE(store->tag("busybox", parse_digest(kDigest).value()));
    }
}
