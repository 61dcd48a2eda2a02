// Listing a directory: the one readdir loop of the tree.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch {

struct DirectoryEntry {
    std::string name;
    // DT_DIR, DT_REG, ...; DT_UNKNOWN where the filesystem does not say (then lstat the entry).
    unsigned char type;
};

// The entries of the directory dir_fd refers to (any fd to it, O_PATH included: the listing
// reads through a fresh fd of its own, so dir_fd's offset is untouched), in readdir order,
// without "." and "..". A failure names no path: the caller adds it with TRY_CTX.
ErrorOr<std::vector<DirectoryEntry>> list_directory_at(int dir_fd);
// The same for a path. Error::code keeps errno, so that a caller can take ENOENT as empty.
ErrorOr<std::vector<DirectoryEntry>> list_directory(const std::string& path);

}  // namespace hutch
