// A gzip stream made with ISA-L's igzip deflate at level 1: several times faster than zlib's
// fastest level for a few percent more bytes, which suits a layer made once by `hutch import`
// (ISA-L is already what images/ inflates with, layer_stream.h). Internal to images/.
#pragma once

#include <isa-l/igzip_lib.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/error.h"

namespace hutch::images {

class GzipWriter {
public:
    // Where the compressed bytes go, in order.
    using Sink = std::function<ErrorOr<void>(std::span<const std::byte>)>;

    static ErrorOr<std::unique_ptr<GzipWriter>> create(Sink sink);
    GzipWriter(const GzipWriter&) = delete;
    GzipWriter& operator=(const GzipWriter&) = delete;

    ErrorOr<void> write(std::span<const std::byte> data);
    // Writes what is left and the gzip trailer; nothing may be written afterwards.
    ErrorOr<void> finish();

private:
    explicit GzipWriter(Sink sink);
    // Runs the deflater on the input given, sending its output, until it needs more input (or,
    // at the end, until the stream is done).
    ErrorOr<void> deflate_all(bool end);

    Sink sink_;
    isal_zstream stream_{};
    std::vector<uint8_t> level_buffer_;
    std::vector<std::byte> output_;
};

}  // namespace hutch::images
