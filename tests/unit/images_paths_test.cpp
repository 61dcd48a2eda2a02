// images/rooted_path.h and layer_stream.h's pure parts: how a tar entry's name is split (".."
// refused anywhere, "/" and "." dropped), and how a layer's compression is named and detected.
#include <catch2/catch.hpp>

#include "images/layer_stream.h"
#include "images/rooted_path.h"

using namespace hutch;
using namespace hutch::images;

TEST_CASE("rooted paths: names are split into parent and last component inside the root", "[images]") {
    auto path = split_rooted_path("./usr//bin/./env");
    REQUIRE(path);
    CHECK(path->parent == std::vector<std::string>{"usr", "bin"});
    CHECK(path->name == "env");
    CHECK(path->str() == "usr/bin/env");

    auto absolute = split_rooted_path("/etc/passwd");
    REQUIRE(absolute);
    CHECK(absolute->str() == "etc/passwd");  // made relative, as tar does

    auto dir = split_rooted_path("var/lib/");
    REQUIRE(dir);
    CHECK(dir->name == "lib");

    for (const char* root : {".", "./", "/", ""}) {
        auto r = split_rooted_path(root);
        REQUIRE(r);
        CHECK(r->is_root());
        CHECK(r->str() == ".");
    }
}

TEST_CASE("rooted paths: a '..' component is refused wherever it is", "[images]") {
    for (const char* name : {"..", "../x", "a/../../x", "a/..", "/../etc", "a/b/../c"}) {
        INFO(name);
        auto path = split_rooted_path(name);
        REQUIRE_FALSE(path);
        CHECK(path.error().message == "'..' leads out of the layer root");
    }
    // Names that merely start with dots are ordinary names.
    auto dots = split_rooted_path("...");
    REQUIRE(dots);
    CHECK(dots->name == "...");
}

TEST_CASE("layer compression: by media type and by magic bytes", "[images]") {
    CHECK(compression_of_media_type("application/vnd.oci.image.layer.v1.tar") == Compression::none);
    CHECK(compression_of_media_type("application/vnd.oci.image.layer.v1.tar+gzip") == Compression::gzip);
    CHECK(compression_of_media_type("application/vnd.oci.image.layer.v1.tar+zstd") == Compression::zstd);
    CHECK(compression_of_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip") ==
          Compression::gzip);
    CHECK(compression_of_media_type("application/vnd.oci.image.layer.v1.tar+bzip2") == std::nullopt);
    CHECK(compression_of_media_type("application/vnd.oci.image.config.v1+json") == std::nullopt);

    auto bytes = [](std::initializer_list<int> values) {
        std::vector<std::byte> out;
        for (int v : values) out.push_back(static_cast<std::byte>(v));
        return out;
    };
    CHECK(detect_compression(bytes({0x1f, 0x8b, 0x08, 0x00})) == Compression::gzip);
    CHECK(detect_compression(bytes({0x28, 0xb5, 0x2f, 0xfd})) == Compression::zstd);
    CHECK(detect_compression(bytes({0x28, 0xb5, 0x2f})) == Compression::none);  // too short for zstd
    CHECK(detect_compression(bytes({'u', 's', 'r', '/'})) == Compression::none);
    CHECK(detect_compression({}) == Compression::none);
}
