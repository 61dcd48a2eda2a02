// hutch load: an OCI layout directory or an OCI archive (images/oci_layout.h), told apart by
// what the path is, as `podman load` does.
#include <sys/stat.h>

#include <cstdio>

#include "cli/hutch/verbs.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/oci_layout.h"

namespace hutch::cli {

ErrorOr<void> load(const std::string& storage_root, const std::string& path,
                   const std::optional<std::string>& name) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return fail_errno(path);
    auto content = TRY(images::ContentStore::open(storage_root));
    auto store = TRY(images::ImageStore::open(storage_root));
    images::ImportOptions options{.name = name};
    auto imported = TRY_CTX(S_ISDIR(st.st_mode) ? images::import_oci_layout(content, store, path, options)
                                                : images::import_oci_archive(content, store, path, options),
                            path);
    for (const auto& image : imported) {
        std::string shown = image.name.empty() ? "(no name)" : image.name;
        std::printf("Loaded image: %s %s\n", shown.c_str(), image.manifest.str().c_str());
    }
    return {};
}

}  // namespace hutch::cli
