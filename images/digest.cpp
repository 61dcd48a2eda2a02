#include "images/digest.h"

#include <algorithm>

namespace hutch::images {
namespace {

// The hex length of each algorithm we accept (OCI image-spec, "Digests": registered algorithms).
int hex_length(std::string_view algorithm) {
    if (algorithm == "sha256") return 64;
    if (algorithm == "sha512") return 128;
    return 0;
}

const EVP_MD* evp_md(std::string_view algorithm) {
    if (algorithm == "sha256") return EVP_sha256();
    if (algorithm == "sha512") return EVP_sha512();
    return nullptr;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Keeps a refused digest printable on one line: control bytes and long input are not echoed.
std::string quoted(std::string_view text) {
    std::string out(text.substr(0, 140));
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c < 0x20 || c == 0x7f; }, '?');
    return "'" + out + (text.size() > 140 ? "...'" : "'");
}

}  // namespace

ErrorOr<Digest> parse_digest(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return fail("digest " + quoted(text) + ": expected ALGORITHM:HEX");
    auto algorithm = text.substr(0, colon);
    auto hex = text.substr(colon + 1);
    int want = hex_length(algorithm);
    if (want == 0)
        return fail("digest " + quoted(text) + ": unsupported algorithm (expected sha256 or sha512)");
    if (hex.size() != static_cast<size_t>(want))
        return fail("digest " + quoted(text) + ": expected " + std::to_string(want) + " hex digits, got " +
                    std::to_string(hex.size()));
    if (!std::all_of(hex.begin(), hex.end(), is_lower_hex))
        return fail("digest " + quoted(text) + ": expected lowercase hex digits");
    return Digest{std::string(algorithm), std::string(hex)};
}

ErrorOr<Hasher> Hasher::create(std::string_view algorithm) {
    const EVP_MD* md = evp_md(algorithm);
    if (md == nullptr) return fail("hash algorithm '" + std::string(algorithm) + "': unsupported");
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return fail("hash: EVP_MD_CTX_new failed");
    Hasher hasher(std::string(algorithm), ctx);
    if (EVP_DigestInit_ex(ctx, md, nullptr) != 1) return fail("hash: EVP_DigestInit_ex failed");
    return hasher;
}

void Hasher::update(std::span<const std::byte> data) {
    // EVP_DigestUpdate fails only on a context that was never initialised, which create() rules out.
    if (!data.empty()) EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

ErrorOr<Digest> Hasher::finish() {
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), raw, &length) != 1) return fail("hash: EVP_DigestFinal_ex failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += digits[raw[i] >> 4];
        hex += digits[raw[i] & 0xf];
    }
    return Digest{algorithm_, std::move(hex)};
}

ErrorOr<Digest> digest_of(std::string_view data, std::string_view algorithm) {
    auto hasher = TRY(Hasher::create(algorithm));
    hasher.update(data);
    return hasher.finish();
}

}  // namespace hutch::images
