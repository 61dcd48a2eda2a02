// The unpack loop: libarchive reads the tar from a LayerStream (which decompresses and hashes, on
// a thread of its own: layer_read_ahead.h), and each entry goes to entries.cpp or whiteouts.cpp. libarchive
// is given only the plain tar format: no other archive format and no decompression of its own is reachable
// from a layer.
#include "images/unpack.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "images/layer_read_ahead.h"
#include "images/layer_stream.h"
#include "images/unpack_internal.h"

namespace hutch::images {
namespace {

struct FreeArchive {
    void operator()(archive* a) const { archive_read_free(a); }
};

// What libarchive's read callback needs; the stream's own error is kept, since libarchive would
// only report "read failed".
struct ReadContext {
    LayerReadAhead* ahead;
    std::optional<Error> error;
};

// libarchive keeps the block until its next call, as next() keeps it.
la_ssize_t read_callback(archive* a, void* opaque, const void** block) {
    auto* context = static_cast<ReadContext*>(opaque);
    auto next = context->ahead->next();
    if (!next) {
        context->error = next.error();
        archive_set_error(a, EIO, "%s", next.error().message.c_str());
        return -1;
    }
    *block = next->data();
    return static_cast<la_ssize_t>(next->size());
}

// A name as it may be shown in a one-line error: control characters become '?'.
std::string printable(const char* name) {
    std::string out = name != nullptr ? name : "(no name)";
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c < 0x20 || c == 0x7f; }, '?');
    return out;
}

// libarchive's error, or the stream's when that is where it started.
Error archive_failure(archive* a, const ReadContext& context) {
    if (context.error) return *context.error;
    const char* message = archive_error_string(a);
    return Error::with_message(printable(message != nullptr ? message : "unknown libarchive error"));
}

ErrorOr<void> unpack_one(UnpackState& state, archive_entry* entry) {
    const char* name = archive_entry_pathname(entry);
    if (name == nullptr) return fail("entry without a name");
    auto path = TRY(split_rooted_path(name));
    if (is_whiteout(path)) return apply_whiteout(state, path);
    TRY(create_entry(state, entry, path));
    // The directories on the way count as this layer's too (it may have made them without
    // entries of their own): an opaque marker met later must keep them and what they hold.
    std::string prefix;
    for (const auto& part : path.parent) {
        prefix += prefix.empty() ? part : "/" + part;
        state.created.insert(prefix);
    }
    state.created.insert(path.str());
    return {};
}

// Directory mtimes, set once nothing more is written in them. A directory a later entry
// replaced or removed is skipped; the lookup is as careful as the entries' own.
void set_directory_times(const UnpackState& state) {
    for (const auto& [path, mtime] : state.directory_times) {
        auto parent = open_parent(state.root_fd, path, false);
        if (!parent) continue;
        struct stat st {};
        if (fstatat(parent->get(), path.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
            continue;
        timespec times[2] = {mtime, mtime};
        utimensat(parent->get(), path.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
}

ErrorOr<Digest> unpack_stream(LayerStream& stream, int root_fd, WhiteoutMode whiteouts) {
    // Declared before the reader, so that the reader goes first and the thread (stopped, on an
    // early return) after it.
    auto ahead = TRY(LayerReadAhead::start(stream));
    std::unique_ptr<archive, FreeArchive> reader(archive_read_new());
    if (!reader) return fail("archive_read_new failed");
    archive_read_support_format_tar(reader.get());
    ReadContext context{ahead.get(), std::nullopt};
    if (archive_read_open(reader.get(), &context, nullptr, read_callback, nullptr) != ARCHIVE_OK)
        return std::unexpected(archive_failure(reader.get(), context).context("layer: open tar"));

    UnpackState state{reader.get(), root_fd, whiteouts, {}, {}};
    for (;;) {
        archive_entry* entry = nullptr;
        int rc = archive_read_next_header(reader.get(), &entry);
        if (rc == ARCHIVE_EOF) break;
        // ARCHIVE_WARN (a header libarchive could read, with something odd in it) still unpacks.
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return std::unexpected(archive_failure(reader.get(), context).context("layer: read tar"));
        TRY_CTX(unpack_one(state, entry), "layer entry '" + printable(archive_entry_pathname(entry)) + "'");
    }
    set_directory_times(state);
    return ahead->finish();
}

}  // namespace

ErrorOr<Digest> unpack_layer(int layer_fd, int root_fd, const UnpackOptions& options) {
    std::optional<Compression> compression;
    if (options.media_type) {
        compression = compression_of_media_type(*options.media_type);
        if (!compression) return fail("layer media type '" + *options.media_type + "': not a layer's");
    }
    auto stream = TRY(LayerStream::open(layer_fd, compression));
    return unpack_stream(*stream, root_fd, options.whiteouts);
}

}  // namespace hutch::images
