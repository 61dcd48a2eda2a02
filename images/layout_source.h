// Where an OCI layout's files come from: a directory, or a tar archive of one read in place.
// Internal to images/ (oci_layout.cpp).
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "images/content_store.h"
#include "images/oci_documents.h"

namespace hutch::images {

class LayoutSource {
public:
    virtual ~LayoutSource() = default;
    // A small top-level file ("oci-layout", "index.json"), at most kMaxDocumentSize bytes.
    virtual ErrorOr<std::string> read_top(const std::string& name) = 0;
    // Stores the blob that descriptor names (blobs/<alg>/<hex>), checked against it.
    virtual ErrorOr<void> ingest(ContentStore& store, const Descriptor& descriptor) = 0;
};

// The layout in directory; its files are opened without leaving it (RESOLVE_BENEATH).
ErrorOr<std::unique_ptr<LayoutSource>> open_layout_directory(const std::string& directory);
// The layout in a tar file (plain or compressed), scanned anew for each file asked for.
ErrorOr<std::unique_ptr<LayoutSource>> open_layout_archive(const std::string& path);

// "blobs/<alg>/<hex>": where a layout keeps a blob.
inline std::string blob_path(const Digest& digest) { return "blobs/" + digest.algorithm + "/" + digest.hex; }

}  // namespace hutch::images
