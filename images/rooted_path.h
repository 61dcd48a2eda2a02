// Paths inside a layer root, resolved only through the root's directory fd: an entry's name is
// split into components (".." refused, "/" and "." dropped), its parent directory is opened with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so that no symlink, "..", or magic link in the
// tree can lead out of the root, and the last component is then acted on with *at() calls that
// never follow it. Internal to images/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::images {

struct RootedPath {
    std::vector<std::string> parent;  // the directories above the last component, from the root
    std::string name;                 // the last component; empty for the root itself

    bool is_root() const { return name.empty(); }
    std::string str() const;  // "a/b/c", "." for the root
};

// Splits a tar entry's name. Leading "/" is dropped, as tar does ("/etc/x" is "etc/x" in the
// root); any ".." component is refused, wherever it is, rather than resolved.
ErrorOr<RootedPath> split_rooted_path(std::string_view name);

// Opens the parent directory of path (O_PATH), resolving it inside root. With create, missing
// directories on the way are made (mode 0755, owned by the caller), as tar does for entries whose
// parents the archive does not list.
ErrorOr<UniqueFd> open_parent(int root_fd, const RootedPath& path, bool create);

// Removes name below dirfd, and everything in it when it is a directory (no symlink followed).
// A name that is not there is no error.
ErrorOr<void> remove_tree_at(int dirfd, const std::string& name);

// Opens a directory below dirfd without following a symlink in its place.
ErrorOr<UniqueFd> open_dir_at(int dirfd, const std::string& name);

}  // namespace hutch::images
