// The uncompressed tar stream of a layer: reads a layer blob from an fd, decompresses it
// (gzip with ISA-L's igzip, zstd with libzstd), and hashes the uncompressed bytes as they pass,
// which gives the layer's diffID (OCI image-spec: the digest of the uncompressed tar).
//
// We decompress here rather than in libarchive's own filters because the diffID must be the
// hash of the uncompressed stream, which libarchive's filters never show to its caller; and
// ISA-L inflates several times faster than the zlib inside libarchive (ENVIRONMENT.md).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images {

enum class Compression { none, gzip, zstd };

// The compression that an OCI layer media type names (".tar", "+gzip", "+zstd"); nullopt when
// the media type is not a layer's one.
std::optional<Compression> compression_of_media_type(std::string_view media_type);
// The OCI layer media type of a tar so compressed ("application/vnd.oci.image.layer.v1.tar+gzip").
std::string_view oci_layer_media_type(Compression compression);
// The compression that a blob's first bytes show (gzip: 1f 8b, zstd: 28 b5 2f fd), else none.
Compression detect_compression(std::span<const std::byte> head);

class LayerStream {
public:
    virtual ~LayerStream() = default;
    // Opens the stream over fd (which stays the caller's). When compression is nullopt it is
    // detected from the first bytes; when given, the first bytes must agree with it.
    static ErrorOr<std::unique_ptr<LayerStream>> open(int fd, std::optional<Compression> compression);

    // Up to buffer.size() bytes of the uncompressed stream; 0 at its end.
    ErrorOr<size_t> read(std::span<std::byte> buffer);
    // Reads (and hashes) whatever is left, then returns the diffID of the whole stream.
    ErrorOr<Digest> finish();

protected:
    LayerStream(int fd, Hasher hasher) : fd_(fd), hasher_(std::move(hasher)) {}
    // Decompressed bytes into buffer; 0 at the end of the stream.
    virtual ErrorOr<size_t> decode(std::span<std::byte> buffer) = 0;
    // Compressed bytes from the fd, starting with the bytes consumed to detect the compression.
    ErrorOr<size_t> read_raw(std::span<std::byte> buffer);

private:
    int fd_;
    Hasher hasher_;
    std::vector<std::byte> head_;  // bytes read to detect the compression, not yet decoded
    size_t head_used_ = 0;
};

}  // namespace hutch::images
