// `hutch import` (docker import, podman import): an image of one layer, made from a root
// filesystem directory or given as a tarball.
//
// A directory becomes a tar (directory_tar.h) gzip'd with ISA-L (gzip_writer.h) on its way into
// the content store; its diffID is hashed from the tar as it is written. A tarball (plain, gzip
// or zstd) is stored as it is, under the media type its compression gives; its diffID is the hash
// of its uncompressed bytes (layer_stream.h). The config hutch writes for the layer names this
// host's platform, the layer's diffID, a history entry and the run config given (config_change.h);
// the OCI manifest that links them is stored too, and its digest names the image.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.h"
#include "images/content_store.h"
#include "images/digest.h"

namespace hutch::images {

// A layer stored in the content store, with what a manifest and config say of it.
struct ImportedLayer {
    StoredBlob blob;
    std::string media_type;
    Digest diff_id;
};

ErrorOr<ImportedLayer> import_directory_layer(ContentStore& content, const std::string& directory);
ErrorOr<ImportedLayer> import_tarball_layer(ContentStore& content, const std::string& path);

// The config of an image of that one layer: platform, run_config as its "config" object, the
// layer's diffID, and a history entry that says it was imported (comment) at created (RFC 3339).
nlohmann::ordered_json single_layer_config(const Digest& diff_id, const nlohmann::ordered_json& run_config,
                                           std::string_view created, std::string_view comment);

// Stores the config and an OCI manifest for layer (already stored); returns the manifest digest.
ErrorOr<Digest> store_single_layer_image(ContentStore& content, const ImportedLayer& layer,
                                         const nlohmann::ordered_json& config);

}  // namespace hutch::images
