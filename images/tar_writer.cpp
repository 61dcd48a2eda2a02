#include "images/tar_writer.h"

#include <vector>

namespace hutch::images {
namespace {

constexpr size_t kCopyBuffer = 256 * 1024;

struct FreeEntry {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

}  // namespace

ErrorOr<std::unique_ptr<TarWriter>> TarWriter::open(Sink sink) {
    std::unique_ptr<TarWriter> self(new TarWriter(std::move(sink)));
    self->writer_ = archive_write_new();
    if (!self->writer_) return fail("archive_write_new: out of memory");
    if (archive_write_set_format_pax_restricted(self->writer_) != ARCHIVE_OK)
        return fail(self->last_error("tar format").message);
    // The archive ends where the tar does, as Go's archive/tar (docker, skopeo) writes it: no
    // padding of the last block to libarchive's default 10 KiB.
    archive_write_set_bytes_in_last_block(self->writer_, 1);
    if (archive_write_open(self->writer_, self.get(), nullptr, write_callback, nullptr) != ARCHIVE_OK)
        return fail(self->last_error("tar").message);
    return self;
}

TarWriter::~TarWriter() {
    // Without close(), the archive is abandoned: nothing more goes to the sink.
    if (writer_) archive_write_free(writer_);
}

la_ssize_t TarWriter::write_callback(archive*, void* self_ptr, const void* data, size_t size) {
    auto* self = static_cast<TarWriter*>(self_ptr);
    auto sent = self->sink_(std::span(static_cast<const std::byte*>(data), size));
    if (!sent) {
        self->sink_error_ = sent.error();
        return -1;
    }
    return static_cast<la_ssize_t>(size);
}

Error TarWriter::last_error(const std::string& what) {
    if (sink_error_) return *sink_error_;
    const char* message = archive_error_string(writer_);
    return Error::with_message(what + ": " + (message ? message : "tar write failed"));
}

ErrorOr<void> TarWriter::add_bytes(const std::string& name, std::string_view data) {
    const char* bytes = data.data();
    size_t left = data.size();
    BlobReader reader = [&](std::span<std::byte> buffer) -> ErrorOr<size_t> {
        size_t n = std::min(left, buffer.size());
        std::copy_n(reinterpret_cast<const std::byte*>(bytes), n, buffer.data());
        bytes += n;
        left -= n;
        return n;
    };
    return add_stream(name, data.size(), reader);
}

ErrorOr<void> TarWriter::add_stream(const std::string& name, uint64_t size, const BlobReader& reader) {
    std::unique_ptr<archive_entry, FreeEntry> entry(archive_entry_new());
    if (!entry) return fail("archive_entry_new: out of memory");
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    return add_entry(entry.get(), &reader);
}

ErrorOr<void> TarWriter::add_entry(archive_entry* entry, const BlobReader* data) {
    const char* raw = archive_entry_pathname(entry);
    std::string name = raw ? raw : "";
    if (archive_write_header(writer_, entry) < ARCHIVE_WARN) return std::unexpected(last_error(name));
    // A hardlink entry carries no data (size 0), nor does anything but a regular file.
    bool has_data = archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0;
    if (has_data) {
        if (!data) return fail(name + ": no data given for a regular file");
        TRY(copy_data(name, static_cast<uint64_t>(archive_entry_size(entry)), *data));
    }
    if (archive_write_finish_entry(writer_) < ARCHIVE_WARN) return std::unexpected(last_error(name));
    return {};
}

ErrorOr<void> TarWriter::copy_data(const std::string& name, uint64_t size, const BlobReader& reader) {
    std::vector<std::byte> buffer(kCopyBuffer);
    uint64_t copied = 0;
    while (copied < size) {
        size_t n = TRY_CTX(reader(buffer), name);
        // A file that shrank since its header was written: the entry would be short.
        if (n == 0)
            return fail(name + ": ended after " + std::to_string(copied) + " of " + std::to_string(size) +
                        " bytes");
        n = static_cast<size_t>(std::min<uint64_t>(n, size - copied));
        if (archive_write_data(writer_, buffer.data(), n) < 0) return std::unexpected(last_error(name));
        copied += n;
    }
    return {};
}

ErrorOr<void> TarWriter::close() {
    if (archive_write_close(writer_) != ARCHIVE_OK) return std::unexpected(last_error("tar"));
    return {};
}

}  // namespace hutch::images
