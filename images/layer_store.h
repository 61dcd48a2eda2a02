// Unpacked layers, shared read-only by every image that has them: each layer is unpacked once, in
// overlayfs's whiteout form, into ROOT/layers/<chainID hex>/diff, keyed by its chain ID (which
// names the layer together with every layer below it, so one diff directory is right for every
// image that shares that stack).
//
// A layer is unpacked into a temporary directory under ROOT/layers/, its diffID checked against
// the image config's rootfs.diff_ids, and only then renamed into place (RENAME_NOREPLACE). Two
// processes preparing one layer at once both unpack it; the first rename wins and the other
// discards its copy. So a ROOT/layers/<hex> directory, once there, is always a whole, checked
// layer, without a lock held across an unpack.
//
// A pull unpacks a layer it fetches from the blob's bytes as they come (unpack_streamed), with the
// same checks: the layer is renamed into place only once its blob's digest and its diffID both
// matched.
//
// A garbage collection (garbage_collect.h) removes layers that no image, container or lease
// needs, under the store's lock: prepare_image adds each chain ID to the content store's lease
// before it looks the layer up (under that lock too), so a layer it found stays while the
// ContentStore lives.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "images/content_store.h"
#include "images/digest.h"
#include "images/oci_documents.h"

namespace hutch::images {

// OCI image-spec (config.md, "Layer ChainID"): chainID(L0) = diffID(L0),
// chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). One chain ID per diffID, bottom first.
ErrorOr<std::vector<Digest>> chain_ids(const std::vector<Digest>& diff_ids);

class LayerStore {
public:
    // The layer store beside content (ROOT/layers, created when missing).
    static ErrorOr<LayerStore> open(const ContentStore& content);

    // Unpacks each layer of the image whose manifest is stored under manifest, unless it is
    // unpacked already, and returns the diff directories top first, as overlayfs's lowerdir lists
    // them.
    ErrorOr<std::vector<std::string>> prepare_image(const Digest& manifest);

    // Whether the layer is unpacked; chain_id is added to the content store's lease first, so a
    // layer found stays while it lives.
    ErrorOr<bool> has_layer(const Digest& chain_id) const;

    // Starts unpacking layer, whose diffID the config says is diff_id, from the bytes the returned
    // sink gets, on a thread of its own (a slow unpack slows the writer down: nothing is buffered
    // but a few blocks). Give the sink to ContentStore::ingest: its finish() checks the diffID and
    // renames the layer into place under chain_id, which the caller has leased (has_layer). When
    // the sink goes unfinished (a failed download), its work is removed. The sink must not outlive
    // this LayerStore.
    ErrorOr<std::unique_ptr<BlobSink>> unpack_streamed(const Descriptor& layer, const Digest& diff_id,
                                                       const Digest& chain_id) const;

    // ROOT/layers/<chainID hex>/diff.
    std::string diff_dir(const Digest& chain_id) const;

private:
    LayerStore(const ContentStore& content, std::string layers, UniqueFd layers_fd, UniqueFd lock_fd)
        : content_(&content),
          layers_(std::move(layers)),
          layers_fd_(std::move(layers_fd)),
          lock_fd_(std::move(lock_fd)) {}
    // Unpacks layer into place under chain_id, when its content has diff_id.
    ErrorOr<void> unpack(const Descriptor& layer, const Digest& diff_id, const Digest& chain_id);

    const ContentStore* content_;
    std::string layers_;
    UniqueFd layers_fd_;
    UniqueFd lock_fd_;  // ROOT/lock, shared with the content store
};

}  // namespace hutch::images
