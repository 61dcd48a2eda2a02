// images/layer_store.h: chain IDs follow the OCI spec's definition, checked against SHA-256
// computed here straight with OpenSSL (not with images/digest.h, which the store uses).
#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "images/layer_store.h"

using namespace hutch;
using namespace hutch::images;

namespace {

std::string sha256_hex(const std::string& data) {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
    std::string hex;
    char pair[3];
    for (unsigned char byte : out) {
        std::snprintf(pair, sizeof(pair), "%02x", byte);
        hex += pair;
    }
    return hex;
}

Digest digest(const std::string& text) { return parse_digest(text).value(); }

}  // namespace

TEST_CASE("chain IDs: the first is the diffID, each next hashes the one below and its diffID", "[images]") {
    std::string a = "sha256:" + sha256_hex("layer a");
    std::string b = "sha256:" + sha256_hex("layer b");
    std::string c = "sha256:" + sha256_hex("layer c");
    auto chain = chain_ids({digest(a), digest(b), digest(c)});
    REQUIRE(chain);
    REQUIRE(chain->size() == 3);
    CHECK((*chain)[0].str() == a);
    std::string ab = "sha256:" + sha256_hex(a + " " + b);
    CHECK((*chain)[1].str() == ab);
    CHECK((*chain)[2].str() == "sha256:" + sha256_hex(ab + " " + c));
    CHECK(chain_ids({})->empty());
}

TEST_CASE("chain IDs: a known value (sha256 of a fixed string, as `sha256sum` gives it)", "[images]") {
    // printf 'sha256:<64 a> sha256:<64 b>' | sha256sum
    auto chain =
        chain_ids({digest("sha256:" + std::string(64, 'a')), digest("sha256:" + std::string(64, 'b'))});
    REQUIRE(chain);
    CHECK((*chain)[1].hex == "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
}
