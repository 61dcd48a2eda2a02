// What a store is still making: ingest/ files (content_store.cpp) and layers/.tmp-* directories
// (layer_dir.h). Each is flocked by its maker for as long as the maker has it open, so that a
// garbage collection can tell one still being made (locked) from one a crashed or killed maker
// left behind (unlocked), and remove only the latter.
//
// The maker makes and locks it with the store's lock held shared, and the collector looks with
// that lock held exclusively: a collector never sees one that is made but not yet locked.
// Internal to images/.
#pragma once

#include <string>

#include "base/error.h"

namespace hutch::images {

// Marks fd, the maker's own fd of what it just made, as in progress until that fd closes.
ErrorOr<void> lock_in_progress(int fd, const std::string& shown);

// Whether dirfd/name was left behind: nobody holds its lock. False when it is gone already.
ErrorOr<bool> is_abandoned(int dirfd, const std::string& name, const std::string& shown);

}  // namespace hutch::images
