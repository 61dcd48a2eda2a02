// A container's root filesystem: an overlayfs mount of its image's shared, read-only layer
// directories (the layer store's) with a writable layer of its own on top, as containerd's
// overlay snapshotter makes one. Under the container's directory DIR:
//   DIR/upper   what the container wrote (kept while the container exists)
//   DIR/work    overlayfs's work directory
//   DIR/rootfs  the mount point: the bundle's rootfs
// The mount is made in the caller's mount namespace (the host's), so that the runtime finds it
// as a plain bundle rootfs; it is unmounted when the container stops, and mounted again by a
// later start.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::images {

// Makes DIR/{upper,work,rootfs} when missing and mounts the overlay at DIR/rootfs, with lowers
// top first (LayerStore::prepare_image's order). Mounted already is no error.
// A container removed when it exits (--rm) keeps nothing of its writable layer, so the overlay is
// mounted `volatile`: no sync of the upper layer, above all none of the whole upper filesystem
// when the overlay is unmounted, which otherwise waits for every dirty page on that filesystem
// (podman mounts --rm containers so too). Such an overlay cannot be mounted again (overlayfs
// refuses a work directory a volatile mount has used), which a --rm container never needs.
ErrorOr<void> mount_container_rootfs(const std::string& dir, const std::vector<std::string>& lowers,
                                     bool removed_on_exit);

// Unmounts DIR/rootfs when something is mounted there (lazily: a process still inside keeps its
// view and the mount goes when it leaves).
ErrorOr<void> unmount_container_rootfs(const std::string& dir);

// Unmounts, then removes DIR and everything under it, without following a symlink the container
// planted in its upper layer.
ErrorOr<void> remove_container_dir(const std::string& dir);

}  // namespace hutch::images
