#include "images/archive_import.h"

#include "images/archive_members.h"
#include "images/docker_archive.h"

namespace hutch::images {

ErrorOr<ArchiveFormat> detect_archive_format(const std::string& path) {
    auto members = TRY(ArchiveMembers::open(path));
    if (TRY(members.contains("oci-layout"))) return ArchiveFormat::oci;
    if (TRY(members.contains("manifest.json"))) return ArchiveFormat::docker;
    return fail(path + ": neither an OCI archive (no oci-layout) nor a docker archive (no manifest.json)");
}

ErrorOr<std::vector<ImportedImage>> import_image_archive(ContentStore& content, ImageStore& images,
                                                         const std::string& path,
                                                         const ImportOptions& options) {
    switch (TRY(detect_archive_format(path))) {
        case ArchiveFormat::oci: return import_oci_archive(content, images, path, options);
        case ArchiveFormat::docker: return import_docker_archive(content, images, path, options);
    }
    return fail(path + ": unknown archive format");
}

}  // namespace hutch::images
