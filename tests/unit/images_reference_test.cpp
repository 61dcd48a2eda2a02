// images/image_reference.h: docker's defaults (docker.io, library/, latest), registries told
// apart from repository components, and one-line errors for malformed references.
#include <catch2/catch.hpp>

#include "images/image_reference.h"

using namespace hutch::images;

namespace {

ImageReference parsed(const std::string& text) {
    auto ref = parse_image_reference(text);
    INFO(text << ": " << (ref ? "" : ref.error().message));
    REQUIRE(ref);
    return *ref;
}

std::string error_of(const std::string& text) {
    auto ref = parse_image_reference(text);
    INFO(text);
    REQUIRE_FALSE(ref);
    CHECK(ref.error().message.find('\n') == std::string::npos);
    return ref.error().message;
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// normalize_reference: the key of images.json.
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

}  // namespace

TEST_CASE("image reference: docker's defaults", "[images][reference]") {
    auto ref = parsed("busybox");
    CHECK(ref.registry == "docker.io");
    CHECK(ref.repository == "library/busybox");
    CHECK(ref.tag == "latest");
    CHECK_FALSE(ref.digest);
    CHECK(ref.str() == "docker.io/library/busybox:latest");
    CHECK(ref.manifest_reference() == "latest");

    CHECK(parsed("user/app:1.2").str() == "docker.io/user/app:1.2");
    CHECK(parsed("docker.io/busybox").repository == "library/busybox");
    CHECK(parsed("index.docker.io/busybox").str() == "docker.io/library/busybox:latest");
}

TEST_CASE("image reference: what names a registry", "[images][reference]") {
    CHECK(parsed("localhost/app").registry == "localhost");
    CHECK(parsed("localhost/app").repository == "app");  // no library/ outside Docker Hub
    CHECK(parsed("127.0.0.1:5000/test/busybox:v1").str() == "127.0.0.1:5000/test/busybox:v1");
    CHECK(parsed("ghcr.io/org/team/app").repository == "org/team/app");
    CHECK(parsed("myhost:5000/app").registry == "myhost:5000");
    CHECK(parsed("[::1]:5000/app").registry == "[::1]:5000");
    // A first component without '.', ':' and not "localhost" is a Docker Hub user.
    auto ref = parsed("someuser/app");
    CHECK(ref.registry == "docker.io");
    CHECK(ref.repository == "someuser/app");
}

TEST_CASE("image reference: tags and digests", "[images][reference]") {
    auto by_digest = parsed("127.0.0.1:5000/a/b@sha256:" + kHex);
    REQUIRE(by_digest.digest);
    CHECK(by_digest.digest->hex == kHex);
    CHECK(by_digest.manifest_reference() == "sha256:" + kHex);
    CHECK(by_digest.str() == "127.0.0.1:5000/a/b@sha256:" + kHex);
    // A port's colon is not a tag's.
    CHECK(parsed("host:5000/app").tag == "latest");
    auto both = parsed("app:v2@sha256:" + kHex);
    CHECK(both.tag == "v2");
    CHECK(both.manifest_reference() == "sha256:" + kHex);
    CHECK(parsed("a/b:V1.0_rc-1").tag == "V1.0_rc-1");
    CHECK(parsed("a__b/c-d--e/f.g").repository == "a__b/c-d--e/f.g");
}

TEST_CASE("image reference: malformed ones are refused, saying why", "[images][reference]") {
    CHECK(error_of("").find("empty image reference") != std::string::npos);
    CHECK(error_of("Busybox").find("must be lowercase") != std::string::npos);
    CHECK(error_of("busybox:").find("empty tag") != std::string::npos);
    CHECK(error_of("busybox:-x").find("tag") != std::string::npos);
    CHECK(error_of("busybox:" + std::string(129, 'a')).find("longer than 128") != std::string::npos);
    CHECK(error_of("busybox@sha256:abc").find("image reference \"busybox@sha256:abc\"") == 0);
    CHECK(error_of("busybox@md5:" + kHex).find("busybox@md5") != std::string::npos);
    CHECK(error_of("a//b").find("empty path component") != std::string::npos);
    CHECK(error_of("a/b/").find("empty path component") != std::string::npos);
    CHECK(error_of("localhost/").find("repository") != std::string::npos);
    CHECK(error_of("host:port/app").find("port must be 1 to 5 digits") != std::string::npos);
    CHECK(error_of("host:/app").find("port") != std::string::npos);
    CHECK(error_of("[::1/app").find("unclosed") != std::string::npos);
    CHECK(error_of("-bad.host/app").find("not a host name") != std::string::npos);
    CHECK(error_of("a/_b").find("component \"_b\"") != std::string::npos);
    CHECK(error_of("a/b..c").find("component") != std::string::npos);
    CHECK(error_of("a/b c").find("component") != std::string::npos);
    CHECK(error_of("a/b\nc").find("a/b?c") != std::string::npos);
    CHECK(error_of("a/b:" + std::string(1000, 'x')).find("image reference too long") != std::string::npos);
    CHECK(error_of("a/" + std::string(300, 'b')).find("longer than 255") != std::string::npos);
}

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
    CHECK(normal("quay.io/a/b:1@" + digest) == "quay.io/a/b@" + digest);  // the digest names it
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
