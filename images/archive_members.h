// The files of a tar archive (plain or compressed), read in place with libarchive, by name: what
// an OCI archive's layout and a docker archive's manifest.json name. A tar has no table of
// contents, so each file asked for is found by scanning the headers from the start; on a plain
// tar file libarchive skips the data between them by seeking, so a scan costs a read of the
// headers, not of the layers. Internal to images/.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "images/content_store.h"

namespace hutch::images {

// A member's name as a path from the archive's root: "./a//b" is "a/b". ".." is resolved within
// the name; one that leads above the root, and an absolute name, are refused, as is an empty one.
// base is the directory a relative symlink target starts from ("" for the root).
ErrorOr<std::string> archive_member_path(std::string_view name, std::string_view base = "");

class ArchiveMembers {
public:
    // Opens path and reads its first header, so that a missing or unreadable file, or one that
    // is no tar, is reported at once.
    static ErrorOr<ArchiveMembers> open(std::string path);

    // Whether the archive holds a file (or a link) by that name.
    ErrorOr<bool> contains(const std::string& name) const;
    // A small file read whole; refused when larger than limit.
    ErrorOr<std::string> read_small(const std::string& name, uint64_t limit) const;
    // Streams the file's bytes to use(). A symlink or hardlink member is followed to the file it
    // names inside the archive (a few hops at most); anything else that is not a regular file is
    // refused.
    ErrorOr<void> read(const std::string& name,
                       const std::function<ErrorOr<void>(const BlobReader&)>& use) const;

    const std::string& path() const { return path_; }
    // "ARCHIVE: NAME", for errors.
    std::string shown(const std::string& name) const { return path_ + ": " + name; }

private:
    explicit ArchiveMembers(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

}  // namespace hutch::images
