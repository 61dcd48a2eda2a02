// A directory tree written as a tar (`hutch import DIR`): entries named relative to the directory
// ("bin/sh"), in sorted order, so the same tree always gives the same layer and diffID; each with
// its numeric owner, mode, times and xattrs as libarchive reads them from disk (no user or group
// names: the host's mean nothing in an image). Symlinks are stored, never followed; files linked
// more than once are stored once, then as hardlinks. Sockets cannot be in a tar and are skipped,
// as tar does. Internal to images/.
#pragma once

#include <string>

#include "base/error.h"
#include "images/tar_writer.h"

namespace hutch::images {

ErrorOr<void> write_directory_tar(const std::string& directory, TarWriter& tar);

}  // namespace hutch::images
