// The initramfs every microVM boots: hutch-agent as /init, and the few nodes the kernel needs
// before the agent mounts devtmpfs (/dev/console, for init's stdio).
#pragma once

#include <string>

#include "base/error.h"

namespace hutch::microvm::host {

// cache_dir/agent-<size>-<mtime>-<inode>.cpio (a newc cpio, uncompressed: the kernel unpacks it
// faster than it would inflate it), written with libarchive on first use under a temporary name
// and renamed into place. Keyed by the agent binary's identity, so a rebuilt agent gets a new one.
ErrorOr<std::string> agent_initramfs(const std::string& agent_binary, const std::string& cache_dir);

}  // namespace hutch::microvm::host
