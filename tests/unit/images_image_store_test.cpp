// images/image_store.h: images.json keeps names, normalised, across tag, resolve, list and untag.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "images/image_store.h"
#include "store_dir.h"

using namespace hutch;
using namespace hutch::images;
using hutch::test::StoreDir;
namespace fs = std::filesystem;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

}  // namespace

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
