// Resolving a user inside an image: passwd(5) and group(5) lines, colon-separated.
#include "images/image_user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "base/fd.h"
#include "base/file.h"

namespace hutch::images {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        size_t end = text.find(separator, start);
        parts.push_back(
            text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

std::optional<uint32_t> parse_id(std::string_view text) {
    uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// The entries of a passwd or group file with at least min_fields fields; others are skipped, as
// libc skips them.
std::vector<std::vector<std::string_view>> entries(std::string_view file, size_t min_fields) {
    std::vector<std::vector<std::string_view>> out;
    for (std::string_view line : split(file, '\n')) {
        if (line.empty() || line.front() == '#') continue;
        auto fields = split(line, ':');
        if (fields.size() >= min_fields && parse_id(fields[2])) out.push_back(std::move(fields));
    }
    return out;
}

struct Named {
    std::string_view name;  // empty for a bare number not listed
    uint32_t id;
};

// A passwd or group entry by name or by number (a number need not be listed).
ErrorOr<Named> find_id(const std::vector<std::vector<std::string_view>>& table, std::string_view wanted,
                       std::string_view what) {
    auto number = parse_id(wanted);
    for (const auto& fields : table) {
        if (fields[0] == wanted || (number && parse_id(fields[2]) == number))
            return Named{fields[0], *parse_id(fields[2])};
    }
    if (number) return Named{{}, *number};
    return fail("unable to find " + std::string(what) + " " + std::string(wanted) +
                ": no matching entries in " + (what == "user" ? "passwd" : "group") + " file");
}

// A missing file reads as empty: an image without /etc/passwd still runs as a numeric user.
ErrorOr<std::string> read_in_root(int rootfs_fd, const char* path) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(static_cast<int>(syscall(SYS_openat2, rootfs_fd, path, &how, sizeof how)));
    if (!fd) {
        if (errno == ENOENT) return std::string();
        return fail_errno(std::string("/") + path);
    }
    return TRY_CTX(read_all(fd.get()), std::string("/") + path);
}

}  // namespace

ErrorOr<ImageUser> resolve_image_user_from(std::string_view user, std::string_view passwd,
                                           std::string_view group) {
    ImageUser out;
    out.home = "/";
    if (user.empty()) return out;
    size_t colon = user.find(':');
    std::string_view user_part = user.substr(0, colon);
    auto users = entries(passwd, 7);
    auto groups = entries(group, 3);
    Named found = TRY(find_id(users, user_part, "user"));
    out.uid = found.id;
    for (const auto& fields : users) {
        if (fields[0] == found.name) {
            out.gid = parse_id(fields[3]).value_or(0);
            out.home = fields[5].empty() ? "/" : std::string(fields[5]);
        }
    }
    if (colon != std::string_view::npos) out.gid = TRY(find_id(groups, user.substr(colon + 1), "group")).id;
    if (found.name.empty()) return out;
    for (const auto& fields : groups) {
        if (fields.size() < 4) continue;
        auto members = split(fields[3], ',');
        gid_t gid = *parse_id(fields[2]);
        if (gid != out.gid && std::ranges::find(members, found.name) != members.end())
            out.additional_gids.push_back(gid);
    }
    return out;
}

ErrorOr<ImageUser> resolve_image_user(int rootfs_fd, std::string_view user) {
    if (user.empty()) return resolve_image_user_from(user, "", "");
    std::string passwd = TRY(read_in_root(rootfs_fd, "etc/passwd"));
    std::string group = TRY(read_in_root(rootfs_fd, "etc/group"));
    return TRY_CTX(resolve_image_user_from(user, passwd, group), "user " + std::string(user));
}

}  // namespace hutch::images
