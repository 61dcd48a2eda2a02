// hutch image prune [-a]: podman's meaning. Without -a, dangling images go (a manifest stored
// with no name pointing at it: a `load` of an unnamed image, the name moved to another image by a
// later pull), with whatever only they used; with -a, also the names of every image that no
// container uses, whatever its status. Prints what went and the space reclaimed.
#include <cstdio>

#include "cli/hutch/image_gc.h"
#include "cli/hutch/verbs.h"
#include "images/image_store.h"

namespace hutch::cli {
namespace {

// Removes every name whose image no container uses. A container made from one meanwhile keeps
// what it uses (its record or its lease is a root of the collection), only the name goes.
ErrorOr<void> untag_unused(images::ImageStore& store, const ContainerStore& containers) {
    auto in_use = TRY(containers_in_use(containers));
    for (const auto& [name, manifest] : TRY(store.list())) {
        if (in_use.manifests.contains(manifest.str())) continue;
        TRY(store.untag(name));
        std::printf("Untagged: %s\n", name.c_str());
    }
    return {};
}

}  // namespace

ErrorOr<void> prune_images(const std::string& storage_root, bool all) {
    auto store = TRY(images::ImageStore::open(storage_root));
    auto containers = TRY(ContainerStore::open(storage_root, ""));
    if (all) TRY(untag_unused(store, containers));
    auto collected =
        TRY(images::collect_garbage(storage_root, [&] { return containers_in_use(containers); }));
    print_collected(collected);
    std::printf("Total reclaimed space: %s\n", human_size(collected.bytes).c_str());
    return {};
}

}  // namespace hutch::cli
