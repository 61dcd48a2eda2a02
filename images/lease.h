// A lease: the digests a process relies on before any name or container record points at them,
// so that a concurrent garbage collection (garbage_collect.h) keeps them. A pull or load stores
// blobs and unpacks layers first and names the image last; between the two, a prune that looked
// only at names and containers would remove what it just stored (or a blob it found already
// stored and skipped fetching).
//
// A lease is a file ROOT/leases/<random>, one digest a line ("sha256:<hex>": a blob, and the
// layer whose chain ID it is), appended to *before* the blob or layer is looked up or stored.
// Its holder keeps an flock on it for as long as the lease lives, and removes the file at the
// end; a file whose flock can be taken belongs to a process that died, and is removed by the
// collector. Chosen over "keep what is newer than the prune's start" (a pull may rely on an old
// blob it did not fetch again) and over holding the store's lock across a pull (minutes). The
// ContentStore takes one by itself on first use (content_store.h), so no caller can forget.
// Internal to images/.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/fd.h"
#include "images/digest.h"

namespace hutch::images {

class Lease {
public:
    // A new lease under root_fd (ROOT/leases made when missing), flock()ed before it is visible.
    static ErrorOr<Lease> take(int root_fd, const std::string& root);
    Lease(Lease&& other) noexcept
        : dir_fd_(std::move(other.dir_fd_)),
          fd_(std::move(other.fd_)),
          name_(std::exchange(other.name_, {})) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    // Records digest; returns once the line is written.
    ErrorOr<void> add(const Digest& digest);
    const std::string& name() const { return name_; }

private:
    Lease(UniqueFd dir_fd, UniqueFd fd, std::string name)
        : dir_fd_(std::move(dir_fd)), fd_(std::move(fd)), name_(std::move(name)) {}
    UniqueFd dir_fd_;  // ROOT/leases
    UniqueFd fd_;
    std::string name_;
};

// Every digest ("sha256:<hex>") that a live lease under root_fd holds; the leases of dead processes are
// removed. The caller holds the store's lock (exclusively), so that no lookup runs between this read and what
// it then removes.
ErrorOr<std::set<std::string>> live_leases(int root_fd, const std::string& root);

}  // namespace hutch::images
