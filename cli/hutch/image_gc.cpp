// rmi's and image prune's shared parts (image_gc.h).
#include "cli/hutch/image_gc.h"

#include <cstdio>

namespace hutch::cli {

ErrorOr<images::InUse> containers_in_use(const ContainerStore& containers) {
    images::InUse in_use;
    for (const auto& record : TRY(containers.list())) {
        // What it uses cannot be known: nothing may be collected from under it.
        if (record.status == ContainerStatus::unknown)
            return fail("container " + record.id.substr(0, 12) +
                        " has an unreadable record: remove it (rm -f) before removing images");
        if (!record.image_digest.empty()) in_use.manifests.insert(record.image_digest);
        in_use.layer_dirs.insert(in_use.layer_dirs.end(), record.lowers.begin(), record.lowers.end());
    }
    return in_use;
}

void print_collected(const images::Collected& collected) {
    for (const auto& blob : collected.blobs) std::printf("Deleted: %s\n", blob.c_str());
    for (const auto& layer : collected.layers) std::printf("Deleted layer: %s\n", layer.c_str());
}

std::string human_size(uint64_t bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1000 && unit + 1 < std::size(units)) {
        value /= 1000;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.3g %s", value, units[unit]);
    return text;
}

}  // namespace hutch::cli
