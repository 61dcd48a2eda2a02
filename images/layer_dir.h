// A layer's directory while it is unpacked, and its commit into the layer store under its chain
// ID: what LayerStore::unpack (from a stored blob) and the streamed unpack of a pull
// (streamed_layer.cpp) share. Internal to images/.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "images/digest.h"

namespace hutch::images {

// A directory ROOT/layers/.tmp-<hex>-<random> with an empty diff/, removed with all it holds when
// dropped, unless committed() says it was renamed into place. It is locked as in progress
// (in_progress.h) while this lives: the garbage collector removes only those a dead maker left.
// store_lock_fd is the store's lock file (store_lock.h), held shared while it is made.
class TempLayerDir {
public:
    static ErrorOr<TempLayerDir> create(int layers_fd, int store_lock_fd, const Digest& chain_id,
                                        const std::string& layers);
    TempLayerDir(TempLayerDir&& other) noexcept
        : dirfd_(other.dirfd_), name_(std::move(other.name_)), locked_(std::move(other.locked_)) {
        other.name_.clear();
    }
    TempLayerDir(const TempLayerDir&) = delete;
    TempLayerDir& operator=(const TempLayerDir&) = delete;
    TempLayerDir& operator=(TempLayerDir&&) = delete;
    ~TempLayerDir();
    const std::string& name() const { return name_; }
    void committed() { name_.clear(); }

private:
    TempLayerDir(int dirfd, std::string name) : dirfd_(dirfd), name_(std::move(name)) {}
    int dirfd_;
    std::string name_;
    UniqueFd locked_;  // the directory, flocked as in progress
};

// Checks the unpacked layer's diffID (actual) against the config's, then renames temp into place
// as ROOT/layers/<chain ID hex>. A layer another process put there first wins: ours is then
// dropped with temp. layer names the blob in errors.
ErrorOr<void> commit_layer(TempLayerDir& temp, int layers_fd, const std::string& layers, const Digest& layer,
                           const Digest& actual, const Digest& diff_id, const Digest& chain_id);

}  // namespace hutch::images
