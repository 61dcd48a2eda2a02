// An OCI layout in a tar archive (layout_source.h), read in place with libarchive. A tar has no
// table of contents, so each file asked for is found by scanning the headers from the start; on
// a plain tar file libarchive skips the data between them by seeking, so a scan costs a read of
// the headers, not of the layers.
#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "images/layout_source.h"

namespace hutch::images {
namespace {

constexpr size_t kBlockSize = 64 * 1024;

struct FreeArchive {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, FreeArchive>;

// An entry's name as a layout path: tar writes "./blobs/..." or "blobs/...".
std::string layout_name(const char* raw) {
    std::string_view name = raw ? raw : "";
    while (name.starts_with("./")) name.remove_prefix(2);
    while (name.starts_with("/")) name.remove_prefix(1);
    return std::string(name);
}

class LayoutArchive : public LayoutSource {
public:
    explicit LayoutArchive(std::string path) : path_(std::move(path)) {}

    ErrorOr<std::string> read_top(const std::string& name) override {
        auto reader = TRY(find(name));
        std::string text;
        char buffer[kBlockSize];
        for (;;) {
            la_ssize_t n = archive_read_data(reader.get(), buffer, sizeof(buffer));
            if (n < 0) return fail(shown(name) + ": " + archive_error_string(reader.get()));
            if (n == 0) return text;
            text.append(buffer, static_cast<size_t>(n));
            if (text.size() > kMaxDocumentSize) return fail(shown(name) + ": too large");
        }
    }

    ErrorOr<void> ingest(ContentStore& store, const Descriptor& descriptor) override {
        std::string name = blob_path(descriptor.digest);
        auto reader = TRY(find(name));
        archive* a = reader.get();
        BlobReader read = [a](std::span<std::byte> buffer) -> ErrorOr<size_t> {
            la_ssize_t n = archive_read_data(a, buffer.data(), buffer.size());
            if (n < 0) return fail(archive_error_string(a));
            return static_cast<size_t>(n);
        };
        TRY_CTX(store.ingest(descriptor.digest, descriptor.size, read), shown(name));
        return {};
    }

private:
    std::string shown(const std::string& name) const { return path_ + ": " + name; }

    // The archive, positioned at the data of the regular file name.
    ErrorOr<ArchivePtr> find(const std::string& name) const {
        ArchivePtr reader(archive_read_new());
        if (!reader) return fail("archive_read_new: out of memory");
        archive_read_support_format_tar(reader.get());
        archive_read_support_filter_all(reader.get());
        if (archive_read_open_filename(reader.get(), path_.c_str(), kBlockSize) != ARCHIVE_OK)
            return fail(path_ + ": " + archive_error_string(reader.get()));
        archive_entry* entry = nullptr;
        for (;;) {
            int status = archive_read_next_header(reader.get(), &entry);
            if (status == ARCHIVE_EOF) return fail(shown(name) + ": not in the archive");
            if (status < ARCHIVE_WARN) return fail(path_ + ": " + archive_error_string(reader.get()));
            if (layout_name(archive_entry_pathname(entry)) != name) continue;
            // A hardlink or symlink entry carries no data of its own: a layout has none.
            if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry))
                return fail(shown(name) + ": not a regular file");
            return reader;
        }
    }

    std::string path_;
};

}  // namespace

ErrorOr<std::unique_ptr<LayoutSource>> open_layout_archive(const std::string& path) {
    auto source = std::make_unique<LayoutArchive>(path);
    // Opened once here, so that a missing or unreadable file is reported as such.
    TRY(source->read_top("oci-layout"));
    return std::unique_ptr<LayoutSource>(std::move(source));
}

}  // namespace hutch::images
