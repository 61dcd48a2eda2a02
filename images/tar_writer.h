// Tar archives written with libarchive, in pax format (ustar headers, with pax records only where
// an entry needs them: long names, xattrs, large files), as docker and skopeo write them. The
// bytes go to a sink as libarchive produces them, so nothing is held whole in memory: `hutch save`
// sends them to its output file, `hutch import` through a hasher and a gzip deflater. Internal to
// images/.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "images/content_store.h"

namespace hutch::images {

class TarWriter {
public:
    // Where the archive's bytes go, in order; an error stops the writer.
    using Sink = std::function<ErrorOr<void>(std::span<const std::byte>)>;

    // A writer that sends its bytes to sink. Held by pointer: libarchive keeps its address.
    static ErrorOr<std::unique_ptr<TarWriter>> open(Sink sink);
    ~TarWriter();
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    // A regular file of mode 0644, owned by root, with data as its content.
    ErrorOr<void> add_bytes(const std::string& name, std::string_view data);
    // A regular file of mode 0644 holding size bytes read from reader (which must give exactly
    // that many).
    ErrorOr<void> add_stream(const std::string& name, uint64_t size, const BlobReader& reader);
    // An entry as described (any type); a regular file's size() bytes come from data, which may
    // be empty for any other entry.
    ErrorOr<void> add_entry(archive_entry* entry, const BlobReader* data);
    // Writes the end of the archive; the sink has every byte once this returns.
    ErrorOr<void> close();

private:
    explicit TarWriter(Sink sink) : sink_(std::move(sink)) {}
    static la_ssize_t write_callback(archive* a, void* self, const void* data, size_t size);
    ErrorOr<void> copy_data(const std::string& name, uint64_t size, const BlobReader& reader);
    Error last_error(const std::string& what);

    Sink sink_;
    archive* writer_ = nullptr;
    std::optional<Error> sink_error_;  // what the sink refused, for the error libarchive then gives
};

}  // namespace hutch::images
