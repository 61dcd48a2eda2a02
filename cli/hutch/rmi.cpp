// hutch rmi: removes a name from images.json. The blobs and unpacked layers stay: removing what
// no name references any more needs a walk of every image, which is left for later (README.md).
#include <cstdio>

#include "cli/hutch/verbs.h"
#include "images/image_reference.h"
#include "images/image_store.h"

namespace hutch::cli {

ErrorOr<void> remove_image(const std::string& storage_root, const std::string& name) {
    auto normalized = TRY(images::normalize_reference(name));
    auto images = TRY(images::ImageStore::open(storage_root));
    TRY(images.untag(normalized));
    std::printf("Untagged: %s\n", normalized.c_str());
    return {};
}

}  // namespace hutch::cli
