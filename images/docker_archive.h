// Import of a docker archive: what `docker save` and `podman save` (its default format) write. A
// tar holding manifest.json, a list of images, each
//   {"Config": "<hex>.json", "RepoTags": ["busybox:latest"], "Layers": ["<id>/layer.tar", ...]}
// with the config and layer files it names (layers plain tars or compressed; docker 25 and later
// names them "blobs/sha256/<hex>" and adds an OCI layout beside, which archive_import.h prefers).
// The legacy "repositories" file says nothing RepoTags does not, and is not read.
//
// The archive is read in place (archive_members.h). Its config and layers are stored as they are,
// under the digests their bytes have; hutch then writes the OCI manifest that links them (layer
// media types from each layer's compression) and stores it too. The names are RepoTags,
// normalised (image_reference.h), or the one given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/oci_layout.h"

namespace hutch::images {

struct DockerArchiveImage {
    std::string config;                  // the config's member path in the archive
    std::vector<std::string> repo_tags;  // as written ("busybox:latest"); may be empty
    std::vector<std::string> layers;     // member paths, bottom layer first
};

// manifest.json's text, every path checked (archive_member_path: no absolute path, nothing that
// leads outside the archive) and every RepoTag a valid reference; anything else is refused with
// one line naming the entry ("[0].Layers[1]: '../x' leads outside the archive").
ErrorOr<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view text);

ErrorOr<std::vector<ImportedImage>> import_docker_archive(ContentStore& content, ImageStore& images,
                                                          const std::string& archive_path,
                                                          const ImportOptions& options = {});

}  // namespace hutch::images
