// Content digests as OCI writes them ("sha256:<64 lowercase hex>"), and a streaming hasher that
// computes one while data passes through (OpenSSL's EVP API does the hashing).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::images {

// A validated digest: algorithm "sha256" (64 hex digits) or "sha512" (128), lowercase hex only,
// so that two spellings of one digest can never name two blobs.
struct Digest {
    std::string algorithm;
    std::string hex;

    std::string str() const { return algorithm + ":" + hex; }
    bool operator==(const Digest&) const = default;
};

// Parses "sha256:<hex>"; anything else (another algorithm, uppercase, wrong length) is refused.
ErrorOr<Digest> parse_digest(std::string_view text);

// Hashes a stream piece by piece: update() as data arrives, finish() once at the end.
class Hasher {
public:
    // algorithm: "sha256" or "sha512".
    static ErrorOr<Hasher> create(std::string_view algorithm = "sha256");
    void update(std::span<const std::byte> data);
    void update(std::string_view data) { update(std::as_bytes(std::span(data.data(), data.size()))); }
    // The digest of everything passed to update(); the hasher is spent afterwards.
    ErrorOr<Digest> finish();

private:
    struct FreeCtx {
        void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
    };
    Hasher(std::string algorithm, EVP_MD_CTX* ctx) : algorithm_(std::move(algorithm)), ctx_(ctx) {}
    std::string algorithm_;
    std::unique_ptr<EVP_MD_CTX, FreeCtx> ctx_;
};

// The digest of a whole string (for tests and small JSON blobs).
ErrorOr<Digest> digest_of(std::string_view data, std::string_view algorithm = "sha256");

}  // namespace hutch::images
