// Import of an OCI image layout (image-spec's image-layout.md): a directory with "oci-layout"
// ({"imageLayoutVersion": "1.0.0"}), "index.json" and "blobs/<alg>/<hex>", or an OCI archive (a
// tar of such a directory, as `podman save --format oci-archive` and `skopeo copy oci-archive:`
// write). The archive is read in place with libarchive, never unpacked to disk.
//
// From each image that index.json lists, the blobs of one platform's manifest are imported (a
// nested index gives the manifest of the platform asked for, the host's by default): index,
// manifest, config and layers, each through ContentStore::ingest, so each is stored only when its
// bytes have the digest and size its descriptor gives. Documents are parsed only once stored, from
// the verified copy. The image is then named in the image store: by the given name, else by its
// descriptor's io.containerd.image.name or org.opencontainers.image.ref.name annotation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_documents.h"

namespace hutch::images {

struct ImportOptions {
    // The name to give the image; only for a layout whose index.json lists one image.
    std::optional<std::string> name = {};
    // The platform to take from an index; the host's when not given.
    std::optional<Platform> platform = {};
    // When set, each image's layers are unpacked into it, their diffIDs checked against the
    // config, before the image is named: a name then never points at an image that cannot run.
    LayerStore* layers = nullptr;
};

struct ImportedImage {
    std::string name;  // normalised; empty when the layout names none and none was given
    Digest manifest;
};

// Prepares the imported image's layers when options ask, then gives it each name (normalised):
// one ImportedImage per name, or one without a name when names is empty. For every importer.
ErrorOr<std::vector<ImportedImage>> name_imported_image(ImageStore& images, const Digest& manifest,
                                                        const std::vector<std::string>& names,
                                                        const ImportOptions& options);

ErrorOr<std::vector<ImportedImage>> import_oci_layout(ContentStore& content, ImageStore& images,
                                                      const std::string& directory,
                                                      const ImportOptions& options = {});
ErrorOr<std::vector<ImportedImage>> import_oci_archive(ContentStore& content, ImageStore& images,
                                                       const std::string& archive_path,
                                                       const ImportOptions& options = {});

}  // namespace hutch::images
