// A container without a mount namespace of its own leaves its mounts in the runtime's, or in the
// one it joined by path: delete, and a create that fails after the rootfs was attached, take them
// away with it.
#pragma once

#include "base/error.h"
#include "runtime/container.h"

namespace hutch::runtime {

// Detaches the container's rootfs mount (state.rootfs_mount_id) with everything under it, in the
// namespace state.mount_namespace_path (entered by a child process) or else in the caller's.
// Nothing to do for a container with its own mount namespace, or when the mount is gone.
ErrorOr<void> unmount_shared_rootfs(const ContainerState& state);

}  // namespace hutch::runtime
