// What `rmi` and `image prune` share: the images the `hutch` command's containers use, told to
// the store's garbage collector (images/garbage_collect.h, which knows nothing of containers),
// and how what it removed is shown.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "cli/hutch/container_record.h"
#include "images/garbage_collect.h"

namespace hutch::cli {

// Every container's image (its manifest) and layer directories, whatever its status: a created or
// exited container mounts them again when it starts.
ErrorOr<images::InUse> containers_in_use(const ContainerStore& containers);

// "Deleted: <digest>" for each blob, "Deleted layer: <chain ID>" for each layer.
void print_collected(const images::Collected& collected);

// As podman (docker's go-units) writes sizes: SI units, three significant digits ("5.06 MB").
std::string human_size(uint64_t bytes);

}  // namespace hutch::cli
