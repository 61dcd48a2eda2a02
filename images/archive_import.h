// `hutch load`'s archives, told apart by what they hold, as podman does: an OCI archive has the
// file "oci-layout" (oci_layout.h), a docker archive "manifest.json" (docker_archive.h). Docker
// 25 and later writes both; the OCI layout is then read, as it says more (annotations, index).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/oci_layout.h"

namespace hutch::images {

enum class ArchiveFormat { oci, docker };

// Which of the two the archive at path is; neither is an error that says so.
ErrorOr<ArchiveFormat> detect_archive_format(const std::string& path);

ErrorOr<std::vector<ImportedImage>> import_image_archive(ContentStore& content, ImageStore& images,
                                                         const std::string& path,
                                                         const ImportOptions& options = {});

}  // namespace hutch::images
