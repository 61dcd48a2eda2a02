// hutch rmi: removes names from images.json, then, through the store's garbage collector, the
// blobs and layers that only those images used (a base layer another image shares stays).
#include <cstdio>
#include <set>

#include "cli/hutch/image_gc.h"
#include "cli/hutch/verbs.h"
#include "images/image_reference.h"
#include "images/image_store.h"

namespace hutch::cli {
namespace {

// A container that uses manifest, or nullptr.
const ContainerRecord* user_of(const std::vector<ContainerRecord>& containers,
                               const images::Digest& manifest) {
    for (const auto& record : containers)
        if (record.image_digest == manifest.str()) return &record;
    return nullptr;
}

}  // namespace

ErrorOr<void> remove_images(const std::string& storage_root, const std::vector<std::string>& names,
                            bool force) {
    auto store = TRY(images::ImageStore::open(storage_root));
    auto containers = TRY(ContainerStore::open(storage_root, ""));
    auto records = TRY(containers.list());
    // Every name checked before any goes: a refusal leaves the store as it was.
    std::vector<std::pair<std::string, images::Digest>> doomed;
    for (const auto& name : names) {
        auto normalized = TRY(images::normalize_reference(name));
        auto manifest = TRY(store.resolve(normalized));
        if (auto* user = user_of(records, manifest); user && !force)
            return fail("image " + normalized + " is in use by container " + user->id.substr(0, 12) + " (" +
                        std::string(to_string(user->status)) +
                        "): remove the container first, or use rmi -f");
        doomed.emplace_back(normalized, manifest);
    }
    std::vector<images::Digest> manifests;
    for (const auto& [name, manifest] : doomed) {
        TRY(store.untag(name));
        std::printf("Untagged: %s\n", name.c_str());
        manifests.push_back(manifest);
    }
    // Containers are read again under the store's lock: one made since the check keeps its image.
    auto collected = TRY(images::collect_garbage(storage_root, [&] { return containers_in_use(containers); },
                                                 {.only_reached_from = manifests}));
    print_collected(collected);
    return {};
}

}  // namespace hutch::cli
