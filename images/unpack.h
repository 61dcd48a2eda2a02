// Unpacks one OCI layer (a tar, plain or compressed with gzip or zstd) into a directory.
//
// The layer is untrusted input. Every entry is created relative to the root's directory fd: its
// parent is resolved inside the root (rooted_path.h), and its last component is created anew
// (never followed: a symlink already there is replaced). Names with a ".." component are
// refused; a leading "/" is dropped, as tar does, so "/etc/x" lands at ROOT/etc/x. A directory
// entry naming the root itself ("./") is skipped: the root's owner and mode are the caller's.
// Any other failure stops the unpack with a one-line error naming the entry; what was unpacked
// before it stays (the caller unpacks into a fresh directory and removes it on failure).
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images {

// What an OCI whiteout (".wh.NAME", ".wh..wh..opq") becomes.
enum class WhiteoutMode {
    // The root holds the lower layers' content merged: a whiteout removes NAME from it, an
    // opaque marker removes what its directory held before this layer.
    remove,
    // The root is this layer's own directory, to be stacked by overlayfs: a whiteout becomes
    // overlayfs's own (a 0/0 character device), an opaque marker the xattr trusted.overlay.opaque=y.
    overlay,
};

struct UnpackOptions {
    WhiteoutMode whiteouts = WhiteoutMode::remove;
    // The layer's media type from its descriptor; when set, the content must be compressed as it
    // says. When empty, the compression is detected from the first bytes.
    std::optional<std::string> media_type = {};
};

// Unpacks the layer read from layer_fd into the directory root_fd, and returns the layer's diffID
// (the sha256 of its uncompressed tar stream), which the caller checks against the image config.
// Owners, modes and device nodes are set as the tar says, so this needs root (CAP_CHOWN, CAP_MKNOD,
// CAP_SYS_ADMIN for trusted.* xattrs). Never throws.
ErrorOr<Digest> unpack_layer(int layer_fd, int root_fd, const UnpackOptions& options = {});

}  // namespace hutch::images
