// `hutch save`: images of the store written to one tar file, in either format `hutch load` reads
// (archive_import.h), streamed from the content store blob by blob, never whole in memory.
//
// An OCI archive (what `podman save --format oci-archive` and `skopeo copy ... oci-archive:`
// write) holds oci-layout, blobs/sha256/<hex> and index.json, which lists each image's manifest
// once per name, the name in the org.opencontainers.image.ref.name annotation: skopeo and podman
// find an image by it (`oci-archive:FILE:NAME`), and so does `hutch load`. The manifests, configs
// and layers are the stored bytes, so a loaded image has the same manifest digest as the saved one.
//
// A docker archive (`docker save`, podman's default) holds manifest.json, one entry per image:
// {"Config", "RepoTags", "Layers"}, its files under blobs/sha256/<hex>, as docker 25 names them.
// Its layers are the stored blobs as they are, compressed or not: docker load, podman load and
// skopeo detect the compression of each (docker save itself writes them uncompressed).
//
// The file appears whole or not at all: it is written under a temporary name in its directory
// and renamed into place at the end; a failure removes the temporary file.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "images/archive_import.h"
#include "images/content_store.h"
#include "images/digest.h"

namespace hutch::images {

struct ExportedImage {
    std::string name;  // normalised, "registry/repository:tag"; "" to save the image unnamed
    Digest manifest;
};

ErrorOr<void> export_image_archive(const ContentStore& content, const std::vector<ExportedImage>& images,
                                   ArchiveFormat format, const std::string& path);

}  // namespace hutch::images
