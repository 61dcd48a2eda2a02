// A store of blobs addressed by their digest (the model is containerd's content store): every
// blob lives at ROOT/blobs/<algorithm>/<hex>, and nothing lands there unless its bytes hash to
// that name. A blob is written to ROOT/ingest/ first, checked, fsynced, and then renamed into
// place, so a reader never sees a partial or wrong blob, whatever a crash leaves behind.
//
// Every blob a ContentStore looks up, opens or stores is first added to its lease (lease.h),
// taken on first use and given back when the ContentStore goes: until then a garbage collection
// keeps those blobs, so a pull or load may name its image last. Keep the ContentStore alive until
// what it stored is named (or recorded by a container).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "images/digest.h"
#include "images/lease.h"

namespace hutch::images {

// Fills the buffer with the next bytes of a blob; returns how many (0: the end).
using BlobReader = std::function<ErrorOr<size_t>(std::span<std::byte>)>;

// A reader over an open fd (a file, a pipe, a socket); the fd stays the caller's.
BlobReader fd_reader(int fd);
// A reader over bytes in memory (a manifest fetched or made whole); bytes must outlive it.
BlobReader bytes_reader(std::string_view bytes);

// Where else a blob's bytes go while ingest writes them, and a last word on storing it: a pull
// unpacks a layer from its bytes as they stream in (layer_store.h, LayerStore::unpack_streamed).
class BlobSink {
public:
    virtual ~BlobSink() = default;
    // The blob's next bytes, in order, once they are written to the ingest file. An error stops
    // the ingest (and so the download that feeds it).
    virtual ErrorOr<void> write(std::span<const std::byte> bytes) = 0;
    // Every byte came, and the blob has its expected size and digest; called before the blob is
    // committed, and an error keeps it out of the store.
    virtual ErrorOr<void> finish() = 0;
};

// A blob stored by ingest_computed: the digest and size it turned out to have.
struct StoredBlob {
    Digest digest;
    uint64_t size = 0;
};

class ContentStore {
public:
    // Opens the store at root, creating root and its directories when missing.
    static ErrorOr<ContentStore> open(const std::string& root);

    // Reads a blob from reader and stores it, when it has exactly expected_size bytes that hash
    // to expected. Otherwise nothing is stored and the error says why. Storing a blob that is
    // already there succeeds, and leaves the one there untouched. sink, when given, gets every
    // byte too, and its finish() must succeed before the blob is committed.
    ErrorOr<void> ingest(const Digest& expected, uint64_t expected_size, const BlobReader& reader,
                         BlobSink* sink = nullptr);
    // Stores a blob whose digest is not known beforehand (a docker archive's config and layers,
    // a layer hutch makes): its sha256 is computed as it is written.
    ErrorOr<StoredBlob> ingest_computed(const BlobReader& reader);
    ErrorOr<bool> has(const Digest& digest) const;
    // The blob, open read-only.
    ErrorOr<UniqueFd> open_blob(const Digest& digest) const;
    // Removes a blob; removing one that is not there is an error.
    ErrorOr<void> remove(const Digest& digest);

    // Adds digest to this store's lease: a garbage collection keeps that blob, and the layer
    // whose chain ID it is, while this ContentStore lives. The LayerStore calls it for chain IDs.
    ErrorOr<void> hold(const Digest& digest) const;

    const std::string& root() const { return root_; }

private:
    ContentStore(std::string root, UniqueFd root_fd, UniqueFd ingest_fd, UniqueFd lock_fd)
        : root_(std::move(root)),
          root_fd_(std::move(root_fd)),
          ingest_fd_(std::move(ingest_fd)),
          lock_fd_(std::move(lock_fd)) {}
    // The directory of one algorithm's blobs (ROOT/blobs/sha256), created when missing.
    ErrorOr<UniqueFd> algorithm_dir(const std::string& algorithm) const;
    // Writes the reader's bytes to an open temporary file, hashing and counting them.
    ErrorOr<void> copy_checked(int fd, const Digest& expected, uint64_t expected_size,
                               const BlobReader& reader, BlobSink* sink) const;
    // Renames the written and checked ingest/temp_name into place as digest's blob; false when
    // that blob was stored already (the temporary file is then the caller's to remove).
    ErrorOr<bool> commit(int temp_fd, const std::string& temp_name, const Digest& digest);

    std::string root_;
    UniqueFd root_fd_;
    UniqueFd ingest_fd_;
    UniqueFd lock_fd_;                      // ROOT/lock: flock()ed while the blobs/ tree changes or is read
    mutable std::unique_ptr<Lease> lease_;  // taken by the first hold()
};

}  // namespace hutch::images
