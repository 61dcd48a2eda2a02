// hutch import: an image of one layer from a root filesystem directory or a tarball
// (images/rootfs_import.h), as `podman import` makes one. Its layer is unpacked into the layer
// store before the image is named, as `load` does, so a name never points at an image that
// cannot run.
#include <sys/stat.h>

#include <cstdio>

#include "base/timestamp.h"
#include "cli/hutch/verbs.h"
#include "images/config_change.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_layout.h"
#include "images/rootfs_import.h"

namespace hutch::cli {

ErrorOr<void> import_rootfs(const std::string& storage_root, const RootfsImportOptions& options) {
    struct stat st {};
    if (stat(options.source.c_str(), &st) != 0) return fail_errno(options.source);
    bool directory = S_ISDIR(st.st_mode);
    if (!directory && !S_ISREG(st.st_mode))
        return fail(options.source + ": neither a directory nor a tar file");
    // The changes and the name are checked before anything is stored.
    auto run_config = nlohmann::ordered_json::object();
    for (const auto& change : options.changes) TRY(images::apply_config_change(run_config, change));
    if (options.name) TRY(images::normalize_reference(*options.name));

    auto content = TRY(images::ContentStore::open(storage_root));
    auto store = TRY(images::ImageStore::open(storage_root));
    auto layers = TRY(images::LayerStore::open(content));
    auto layer = TRY(directory ? images::import_directory_layer(content, options.source)
                               : images::import_tarball_layer(content, options.source));
    auto config =
        images::single_layer_config(layer.diff_id, run_config, rfc3339_now(false),
                                    directory ? "imported from a directory" : "imported from a tarball");
    auto manifest = TRY(images::store_single_layer_image(content, layer, config));
    images::ImportOptions naming{.layers = &layers};
    auto names = options.name ? std::vector{*options.name} : std::vector<std::string>{};
    TRY(images::name_imported_image(store, manifest, names, naming));
    std::printf("%s\n", manifest.str().c_str());
    return {};
}

}  // namespace hutch::cli
