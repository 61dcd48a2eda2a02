// The documents of an image read back from the content store, where they were verified against
// their digests on the way in: for the layout import, the layer store and `hutch images`.
#pragma once

#include <string>

#include "base/error.h"
#include "images/content_store.h"
#include "images/oci_documents.h"

namespace hutch::images {

// A stored blob read whole; refused when larger than kMaxDocumentSize.
ErrorOr<std::string> read_document(const ContentStore& store, const Digest& digest);
// The same, from the blob open at fd (for the garbage collector, which holds the store's lock and
// so opens blobs itself).
ErrorOr<std::string> read_document_fd(int fd, const Digest& digest);

ErrorOr<ImageManifest> load_manifest(const ContentStore& store, const Digest& digest);
// The manifest's config, which must list one diffID per layer of the manifest.
ErrorOr<ImageConfig> load_config(const ContentStore& store, const ImageManifest& manifest);

}  // namespace hutch::images
