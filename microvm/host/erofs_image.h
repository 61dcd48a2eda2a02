// A layer handed to a microVM: the erofs image of its diff directory, which the guest mounts
// read-only from a virtio-blk disk (microvm/agent/protocol.h). Overlayfs's whiteouts (0:0
// character devices) and opaque directories (trusted.overlay.opaque) are kept as they are, so the
// guest's overlay reads the layers as the host's does.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::microvm::host {

// LAYER/erofs.img beside LAYER/diff (the layer store's layout), built with mkfs.erofs on first use
// and shared by every VM of every image with that layer. Built under a temporary name and renamed
// into place, so an image there is always whole; two first users both build it, the last rename
// wins, and a VM that opened the other copy keeps it. It goes with its layer when the layer store's
// garbage collection removes LAYER.
ErrorOr<std::string> layer_erofs_image(const std::string& diff_dir);

// An image's layers as a VM's disks: layer_erofs_image of each diff directory (given top first,
// as the layer store lists them), bottom first, as hutch-layer-0 is the bottom layer.
ErrorOr<std::vector<std::string>> layer_images(const std::vector<std::string>& diff_dirs_top_first);

}  // namespace hutch::microvm::host
