// images/digest.h: which digest strings are accepted, and the streaming hasher against known
// SHA-256/SHA-512 vectors (FIPS 180-2's "abc").
#include <catch2/catch.hpp>

#include "images/digest.h"

using namespace hutch;
using namespace hutch::images;

namespace {

const std::string kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string refusal(std::string_view text) {
    auto result = parse_digest(text);
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find('\n') == std::string::npos);
    return result.error().message;
}

}  // namespace

TEST_CASE("digests: sha256 and sha512 with lowercase hex parse", "[images]") {
    auto d = parse_digest("sha256:" + kAbcSha256);
    REQUIRE(d);
    CHECK(d->algorithm == "sha256");
    CHECK(d->hex == kAbcSha256);
    CHECK(d->str() == "sha256:" + kAbcSha256);
    auto long_one = parse_digest("sha512:" + std::string(128, 'a'));
    REQUIRE(long_one);
    CHECK(long_one->algorithm == "sha512");
}

TEST_CASE("digests: anything but ALGORITHM:lowercase-hex of the right length is refused, on one line",
          "[images]") {
    CHECK(refusal("").find("expected ALGORITHM:HEX") != std::string::npos);
    CHECK(refusal(kAbcSha256).find("expected ALGORITHM:HEX") != std::string::npos);
    CHECK(refusal("md5:d41d8cd98f00b204e9800998ecf8427e").find("unsupported algorithm") != std::string::npos);
    CHECK(refusal("SHA256:" + kAbcSha256).find("unsupported algorithm") != std::string::npos);
    CHECK(refusal("sha256:" + kAbcSha256.substr(1)).find("expected 64 hex digits, got 63") !=
          std::string::npos);
    CHECK(refusal("sha256:" + kAbcSha256 + "0").find("got 65") != std::string::npos);
    std::string upper = kAbcSha256;
    upper[0] = 'B';
    CHECK(refusal("sha256:" + upper).find("lowercase hex") != std::string::npos);
    std::string not_hex = kAbcSha256;
    not_hex[5] = 'g';
    CHECK(refusal("sha256:" + not_hex).find("lowercase hex") != std::string::npos);
    // A path smuggled in as hex never parses, so it can never become a blob's file name.
    CHECK(refusal("sha256:../../../../etc/passwd").find("hex digits") != std::string::npos);
    CHECK(refusal("sha256:\n" + kAbcSha256.substr(1)).find('\n') == std::string::npos);
}

TEST_CASE("digests: the hasher gives the known digests, fed whole or byte by byte", "[images]") {
    auto empty = digest_of("");
    REQUIRE(empty);
    CHECK(empty->str() == "sha256:" + kEmptySha256);

    auto hasher = Hasher::create("sha256");
    REQUIRE(hasher);
    for (char c : std::string("abc")) hasher->update(std::string_view(&c, 1));
    auto abc = hasher->finish();
    REQUIRE(abc);
    CHECK(abc->hex == kAbcSha256);

    auto sha512 = digest_of("abc", "sha512");
    REQUIRE(sha512);
    CHECK(sha512->hex.starts_with("ddaf35a193617abacc417349ae204131"));
    CHECK(sha512->hex.size() == 128);

    auto unknown = Hasher::create("md5");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().message == "hash algorithm 'md5': unsupported");
}
