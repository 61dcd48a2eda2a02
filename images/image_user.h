// An image's or a command line's user ("nginx", "1000", "app:staff", "1000:50") turned into ids
// through the image's own /etc/passwd and /etc/group, as docker and podman resolve them: a name
// must be listed there, a number need not be; the group, when not given, is the user's primary
// group (0 for an unlisted uid), and the user's supplementary groups come from /etc/group.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::images {

struct ImageUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> additional_gids;
    std::string home;  // "/" when the user has no passwd entry
};

// Both files are read through rootfs_fd with every path resolved inside it (a symlinked
// /etc/passwd cannot lead out). An empty user is root.
ErrorOr<ImageUser> resolve_image_user(int rootfs_fd, std::string_view user);

// The same from the two files' text, for tests and for callers that have them in hand.
ErrorOr<ImageUser> resolve_image_user_from(std::string_view user, std::string_view passwd,
                                           std::string_view group);

}  // namespace hutch::images
