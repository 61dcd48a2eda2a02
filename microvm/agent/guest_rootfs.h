// The guest's side of the container's root filesystem: the API filesystems, the devices the host
// hands over (virtio-serial ports, layer disks), and the overlay that becomes the root.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// proc, sysfs, devtmpfs and cgroup2 on root/proc, root/sys, root/dev and root/sys/fs/cgroup (made
// when missing; cgroup2 read-only under the container's root); under the container's root, also
// devpts and a tmpfs on /dev/shm.
ErrorOr<void> mount_api_filesystems(const std::string& root, bool container);

// /dev/vportNpM of the virtio-serial port named name.
ErrorOr<std::string> find_port(std::string_view name);

// Mounts the erofs disks hutch-layer-0 .. hutch-layer-(layers-1) read-only, an overlay of them
// with a tmpfs for its upper layer (what the container writes lives and dies with the VM), its
// API filesystems and the config's tmpfs mounts (the root then read-only if the config says so),
// and makes it the root of this process (the initramfs stays beneath, as switch_root leaves it).
ErrorOr<void> enter_container_rootfs(const GuestConfig& config);

}  // namespace hutch::microvm::agent
