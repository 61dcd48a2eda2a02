// Garbage collection of a store: a mark and sweep under the store's lock (ROOT/lock, held
// exclusively throughout), which removes the blobs (ROOT/blobs/<algorithm>/<hex>) and unpacked
// layers (ROOT/layers/<chainID hex>) that nothing needs any more.
//
// What is needed (the roots), each walked from a manifest to its config and layers (and from an
// index to its manifests), and from a config's diffIDs to the layers' chain IDs:
//   - every name in images.json;
//   - every live lease (lease.h): what a pull, load or `hutch run` relies on before its name or
//     container record exists. Every ContentStore takes one, so this needs nothing of callers;
//   - what the caller's containers use. images/ knows nothing of containers: the caller says,
//     through a function called under the lock, after the leases are read (a process that records
//     a container and then drops its lease is so seen in one or the other). Their layer
//     directories are matched by their chain ID (the directory's name), not by the whole path, so
//     a container made under another spelling of the storage root keeps its layers too.
//
// A layer is renamed to ROOT/layers/.trash-<hex> before it is removed, so that a removal cut short
// never leaves a ROOT/layers/<hex> that the layer store would take for a whole layer; trash left
// by a crash is removed by the next collection. Removal happens under the lock too (a few ms per
// layer of busybox's size; a second or so for large ones), so that two collections never remove
// the same trash at once.
//
// What a pull or load killed halfway left behind, its unpack directories (ROOT/layers/.tmp-*) and
// ingest files (ROOT/ingest/*), goes too; those still being made are locked by their maker and
// stay (in_progress.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images {

// What the caller's containers use.
struct InUse {
    std::set<std::string> manifests;      // "sha256:<hex>"
    std::vector<std::string> layer_dirs;  // ROOT/layers/<hex>/diff, as LayerStore::prepare_image gave them
};

struct CollectOptions {
    // When set, only what these manifests reach may go (rmi: what only the removed image used);
    // otherwise everything no root reaches (prune). Read under the lock, as the roots are.
    std::optional<std::vector<Digest>> only_reached_from;
};

struct Collected {
    std::vector<std::string> blobs;   // the digests of the blobs removed
    std::vector<std::string> layers;  // the chain IDs of the layers removed
    uint64_t bytes = 0;               // their size: blobs' and layer files' apparent sizes
};

ErrorOr<Collected> collect_garbage(const std::string& root, const std::function<ErrorOr<InUse>()>& containers,
                                   const CollectOptions& options = {});

}  // namespace hutch::images
