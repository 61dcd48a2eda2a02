// What the parts of the unpacker (unpack.cpp, entries.cpp, whiteouts.cpp) share. Internal.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <time.h>

#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/rooted_path.h"
#include "images/unpack.h"

namespace hutch::images {

// The attributes an entry carries, read once from its tar header.
struct EntryAttributes {
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t permissions = 0;  // permission bits with setuid, setgid and sticky
    timespec mtime{};
    std::vector<std::pair<std::string, std::string>> xattrs;
};

// A directory whose mtime is set once the whole layer is in (its content changes it until then).
struct DeferredTime {
    RootedPath path;
    timespec mtime;
};

struct UnpackState {
    archive* reader = nullptr;
    int root_fd = -1;
    WhiteoutMode whiteouts = WhiteoutMode::remove;
    std::set<std::string> created;  // RootedPath::str() of each entry this layer made
    std::vector<DeferredTime> directory_times;
};

EntryAttributes read_attributes(archive_entry* entry);

// Creates one entry (not a whiteout) at path, with its content and attributes.
ErrorOr<void> create_entry(UnpackState& state, archive_entry* entry, const RootedPath& path);

// True for ".wh.*" names, which carry no content of their own but hide lower content.
bool is_whiteout(const RootedPath& path);
ErrorOr<void> apply_whiteout(UnpackState& state, const RootedPath& path);

}  // namespace hutch::images
