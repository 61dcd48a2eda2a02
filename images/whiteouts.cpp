// OCI whiteouts (image-spec layer.md, "Whiteouts"): ".wh.NAME" hides NAME of the lower layers,
// ".wh..wh..opq" hides everything its directory held in them. A whiteout never applies to what
// this same layer made, whatever the order of the entries.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "base/directory.h"
#include "images/unpack_internal.h"

namespace hutch::images {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

std::string child_path(const RootedPath& dir, const std::string& name) {
    return dir.is_root() ? name : dir.str() + "/" + name;
}

// The directory that holds the marker, as a RootedPath of its own.
RootedPath directory_of(const RootedPath& marker) {
    RootedPath dir;
    if (!marker.parent.empty()) {
        dir.parent.assign(marker.parent.begin(), marker.parent.end() - 1);
        dir.name = marker.parent.back();
    }
    return dir;
}

ErrorOr<void> apply_opaque(UnpackState& state, const RootedPath& marker) {
    // The marker's parent chain is the directory itself: open it as "parent of the marker".
    bool overlay = state.whiteouts == WhiteoutMode::overlay;
    auto dir_fd = open_parent(state.root_fd, marker, overlay);
    if (!dir_fd) {
        // Remove mode: a directory the lower layers never had has nothing to hide.
        if (!overlay && dir_fd.error().code == ENOENT) return {};
        return std::unexpected(dir_fd.error());
    }
    RootedPath dir = directory_of(marker);
    if (overlay) {
        int raw = openat(dir_fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (raw == -1) return fail_errno("open directory");
        UniqueFd fd(raw);
        if (fsetxattr(fd.get(), "trusted.overlay.opaque", "y", 1, 0) == -1)
            return fail_errno("set xattr trusted.overlay.opaque");
        return {};
    }
    for (const auto& [name, type] : TRY(list_directory_at(dir_fd->get()))) {
        if (state.created.contains(child_path(dir, name))) continue;
        TRY(remove_tree_at(dir_fd->get(), name));
    }
    return {};
}

ErrorOr<void> apply_named_whiteout(UnpackState& state, const RootedPath& marker, const std::string& target) {
    RootedPath hidden{marker.parent, target};
    if (state.created.contains(hidden.str())) return {};
    bool overlay = state.whiteouts == WhiteoutMode::overlay;
    auto parent = open_parent(state.root_fd, hidden, overlay);
    if (!parent) {
        if (!overlay && parent.error().code == ENOENT) return {};  // nothing there to hide
        return std::unexpected(parent.error());
    }
    TRY(remove_tree_at(parent->get(), target));
    if (!overlay) return {};
    // overlayfs hides a lower file under a character device 0/0 of the same name.
    if (mknodat(parent->get(), target.c_str(), S_IFCHR | 0, makedev(0, 0)) == -1)
        return fail_errno("mknod whiteout " + hidden.str());
    state.created.insert(hidden.str());
    return {};
}

}  // namespace

bool is_whiteout(const RootedPath& path) { return path.name.starts_with(kWhiteoutPrefix); }

ErrorOr<void> apply_whiteout(UnpackState& state, const RootedPath& path) {
    if (path.name == kOpaqueMarker) return apply_opaque(state, path);
    std::string target = path.name.substr(kWhiteoutPrefix.size());
    // ".wh.." would hide the parent, ".wh..." the grandparent; ".wh..wh.*" other than the
    // opaque marker is reserved by the spec.
    if (target.empty() || target == "." || target == "..")
        return fail("whiteout of '" + target + "' is refused");
    if (target.starts_with(kWhiteoutPrefix)) return fail("reserved whiteout name");
    return apply_named_whiteout(state, path, target);
}

}  // namespace hutch::images
