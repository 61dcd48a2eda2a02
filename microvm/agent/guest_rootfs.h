// The guest's side of the container's root filesystem: the API filesystems, the devices the host
// hands over (virtio-serial ports, layer disks), and the overlay that becomes the root.
#pragma once

#include <sys/mount.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// The flags of the API filesystems (proc, sysfs, cgroup2), wherever the agent mounts them, and of
// the cgroup2 mount a container sees: read-only, as docker mounts it, its limits and not a way to
// change them.
inline constexpr unsigned long api_filesystem_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
inline constexpr unsigned long container_cgroup_flags = api_filesystem_flags | MS_RDONLY;

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
