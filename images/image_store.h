// The names of stored images: ROOT/images.json maps normalised references (image_reference.h) to
// manifest digests, as {"images": {"docker.io/library/busybox:latest": "sha256:..."}}. Every
// change is a read-modify-write under the store's flock (ROOT/lock, shared with the content
// store), and the file is replaced atomically (a temporary file renamed over it), so a reader
// never sees half a file and two writers never lose each other's names.
#pragma once

#include <map>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "images/digest.h"
#include "images/image_reference.h"

namespace hutch::images {

// images.json under root_fd as a map ({} when the file is not there yet), for a caller that holds
// the store's lock already (the garbage collector): ImageStore's own calls take it themselves.
ErrorOr<std::map<std::string, Digest>> read_image_names(int root_fd, const std::string& root);

class ImageStore {
public:
    // Opens the store at root (the content store's root), creating root when missing.
    static ErrorOr<ImageStore> open(const std::string& root);

    // Points name (normalised first) at manifest, replacing what it named before.
    ErrorOr<void> tag(std::string_view name, const Digest& manifest);
    // The manifest digest that name names; a digest ("sha256:...") stands for itself.
    ErrorOr<Digest> resolve(std::string_view name) const;
    // Every name, normalised, with its manifest digest.
    ErrorOr<std::map<std::string, Digest>> list() const;
    // Removes name; removing one that is not there is an error.
    ErrorOr<void> untag(std::string_view name);

private:
    ImageStore(std::string root, UniqueFd root_fd, UniqueFd lock_fd)
        : root_(std::move(root)), root_fd_(std::move(root_fd)), lock_fd_(std::move(lock_fd)) {}
    // images.json as a map ({} when the file is not there yet); the caller holds the lock.
    ErrorOr<std::map<std::string, Digest>> load() const;
    ErrorOr<void> save(const std::map<std::string, Digest>& images) const;

    std::string root_;
    UniqueFd root_fd_;
    UniqueFd lock_fd_;
};

}  // namespace hutch::images
