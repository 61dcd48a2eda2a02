// hutch load: an OCI layout directory, or an archive: OCI or docker, told apart by what it holds
// (images/archive_import.h), as `podman load` does. Every layer is unpacked into the layer store,
// its diffID checked, before the image is named, as `hutch pull` does.
#include <sys/stat.h>

#include <cstdio>

#include "cli/hutch/verbs.h"
#include "images/archive_import.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_layout.h"

namespace hutch::cli {

ErrorOr<void> load(const std::string& storage_root, const std::string& path,
                   const std::optional<std::string>& name) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return fail_errno(path);
    auto content = TRY(images::ContentStore::open(storage_root));
    auto store = TRY(images::ImageStore::open(storage_root));
    auto layers = TRY(images::LayerStore::open(content));
    images::ImportOptions options{.name = name, .layers = &layers};
    // Both name path in their errors.
    auto imported = TRY(S_ISDIR(st.st_mode) ? images::import_oci_layout(content, store, path, options)
                                            : images::import_image_archive(content, store, path, options));
    for (const auto& image : imported) {
        std::string shown = image.name.empty() ? "(no name)" : image.name;
        std::printf("Loaded image: %s %s\n", shown.c_str(), image.manifest.str().c_str());
    }
    return {};
}

}  // namespace hutch::cli
