// hutch save: images of the store written to one archive (images/archive_export.h), in podman's
// formats, docker-archive by default as podman's. A name given is written into the archive, so
// that `load` names the image again; an image given by digest is saved unnamed.
#include "cli/hutch/verbs.h"
#include "images/archive_export.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"

namespace hutch::cli {

ErrorOr<images::ArchiveFormat> parse_archive_format(const std::string& format) {
    if (format == "docker-archive") return images::ArchiveFormat::docker;
    if (format == "oci-archive") return images::ArchiveFormat::oci;
    return fail("--format: '" + format + "' is not oci-archive or docker-archive");
}

ErrorOr<void> save(const std::string& storage_root, const SaveOptions& options) {
    auto format = TRY(parse_archive_format(options.format));
    if (options.output.empty()) return fail("save: -o FILE is required");
    if (options.images.empty()) return fail("save: an image is required");
    auto content = TRY(images::ContentStore::open(storage_root));
    auto store = TRY(images::ImageStore::open(storage_root));
    std::vector<images::ExportedImage> exported;
    for (const auto& image : options.images) {
        auto manifest = TRY(store.resolve(image));
        // A digest, or a reference pinned by one, names no tag to write into the archive.
        std::string name;
        if (!images::parse_digest(image) && image.find('@') == std::string::npos)
            name = TRY(images::normalize_reference(image));
        exported.push_back({std::move(name), manifest});
    }
    return images::export_image_archive(content, exported, format, options.output);
}

}  // namespace hutch::cli
