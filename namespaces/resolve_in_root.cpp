// Resolving config paths inside the rootfs. The kernel does the resolving (openat2 with
// RESOLVE_IN_ROOT): absolute symlinks and ".." stop at the rootfs, magic links (/proc/N/root) are
// refused, and what we create is created relative to an fd that was itself resolved that way. So
// neither a hostile image nor a symlink swapped in between two steps can make a path land on the host.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <climits>

#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

// Newer than this glibc's headers; the kernel's value (include/linux/statfs.h).
constexpr unsigned long kStNoSymFollow = 0x2000;

constexpr int kMaxSymlinkDepth = 40;  // the kernel's own limit (MAXSYMLINKS)

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (pos < path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view part = path.substr(pos, end - pos);
        if (!part.empty() && part != ".") parts.emplace_back(part);
        pos = end + 1;
    }
    return parts;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) {
        if (i) out += '/';
        out += parts[i];
    }
    return out.empty() ? "." : out;
}

// openat2 confined to root_fd; -1 with errno on failure. EAGAIN means a concurrent rename raced
// with "..": the kernel asks us to retry.
int openat2_in_root(int root_fd, const std::string& path, uint64_t flags) {
    struct open_how how {};
    how.flags = flags | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
        if (fd >= 0 || errno != EAGAIN || attempt == 16) return fd;
    }
}

ErrorOr<std::string> read_link_at(int dir_fd, const std::string& name) {
    std::array<char, PATH_MAX> buf{};
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return fail_errno("readlink " + name);
    return std::string(buf.data(), static_cast<size_t>(n));
}

// Creates the missing component `name` in parent_fd: a directory, or an empty file when it is the
// last component of a file destination. EEXIST is fine: it may have been created meanwhile, or be
// a dangling symlink, which the caller follows.
ErrorOr<void> create_component(int parent_fd, const std::string& name, bool as_file) {
    if (name == "..") return fail_errno("create ..", ENOENT);
    if (as_file) {
        UniqueFd fd(
            ::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!fd && errno != EEXIST) return fail_errno("create " + name);
        return {};
    }
    if (::mkdirat(parent_fd, name.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir " + name);
    return {};
}

ErrorOr<UniqueFd> open_or_create(int root_fd, std::string_view path, Create create, int depth);

// Component i is a dangling symlink: continue with its target (inside the root, like the kernel
// would) followed by the components after it. This makes rootfs/evil -> /x plus destination
// /evil/y create rootfs/x/y, which is what runc does.
ErrorOr<UniqueFd> follow_dangling(int root_fd, int parent_fd, const std::vector<std::string>& parts, size_t i,
                                  Create create, int depth) {
    if (depth >= kMaxSymlinkDepth) return fail_errno("resolve " + join(parts, i + 1), ELOOP);
    std::string target = TRY(read_link_at(parent_fd, parts[i]));
    std::string next = target.starts_with('/') ? target : join(parts, i) + "/" + target;
    for (size_t j = i + 1; j < parts.size(); ++j) next += "/" + parts[j];
    return open_or_create(root_fd, next, create, depth + 1);
}

ErrorOr<UniqueFd> open_or_create(int root_fd, std::string_view path, Create create, int depth) {
    auto parts = split_path(path);
    UniqueFd fd(openat2_in_root(root_fd, join(parts, parts.size()), O_PATH));
    if (fd || errno != ENOENT || create == Create::nothing) {
        if (!fd) return fail_errno("open " + std::string(path));
        return fd;
    }
    // Walk down, opening each prefix through the kernel's confined resolution and creating only
    // what is missing, relative to the parent we hold. Usually only the last component is
    // missing: the walk starts at its parent when that exists, else at the root.
    if (parts.empty()) return fail_errno("open the root", ENOENT);
    size_t start = parts.size() - 1;
    UniqueFd parent(openat2_in_root(root_fd, join(parts, start), O_PATH));
    if (!parent && errno == ENOENT) {
        start = 0;
        parent.reset(openat2_in_root(root_fd, ".", O_PATH));
    }
    if (!parent) return fail_errno(start == 0 ? std::string("open the root") : "open /" + join(parts, start));
    for (size_t i = start; i < parts.size(); ++i) {
        std::string prefix = join(parts, i + 1);
        UniqueFd next(openat2_in_root(root_fd, prefix, O_PATH));
        if (!next && errno == ENOENT) {
            bool last = i + 1 == parts.size();
            TRY_CTX(create_component(parent.get(), parts[i], last && create == Create::file), "/" + prefix);
            next.reset(openat2_in_root(root_fd, prefix, O_PATH));
            if (!next && errno == ENOENT)
                return follow_dangling(root_fd, parent.get(), parts, i, create, depth);
        }
        if (!next) return fail_errno("open /" + prefix);
        parent = std::move(next);
    }
    return parent;
}

}  // namespace

std::string clean_path(std::string_view path) {
    std::vector<std::string> out;
    for (auto& part : split_path(path)) {
        if (part != "..")
            out.push_back(std::move(part));
        else if (!out.empty())
            out.pop_back();
    }
    std::string joined;
    for (const auto& part : out) joined += "/" + part;
    return joined.empty() ? "/" : joined;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

ErrorOr<UniqueFd> open_in_root(int root_fd, std::string_view path, Create create) {
    return open_or_create(root_fd, path, create, 0);
}

ErrorOr<UniqueFd> openat_in_root(int root_fd, std::string_view path, uint64_t open_flags) {
    std::string relative = join(split_path(path), split_path(path).size());
    UniqueFd fd(openat2_in_root(root_fd, relative, open_flags));
    if (!fd) return fail_errno("open " + std::string(path));
    return fd;
}

ErrorOr<unsigned long> mount_flags_of(int fd) {
    struct statvfs st {};
    if (::fstatvfs(fd, &st) != 0) return fail_errno("statvfs");
    constexpr std::array<std::pair<unsigned long, unsigned long>, 10> kMap{{
        {ST_RDONLY, MS_RDONLY},
        {ST_NOSUID, MS_NOSUID},
        {ST_NODEV, MS_NODEV},
        {ST_NOEXEC, MS_NOEXEC},
        {ST_SYNCHRONOUS, MS_SYNCHRONOUS},
        {ST_MANDLOCK, MS_MANDLOCK},
        {ST_NOATIME, MS_NOATIME},
        {ST_NODIRATIME, MS_NODIRATIME},
        {ST_RELATIME, MS_RELATIME},
        {kStNoSymFollow, MS_NOSYMFOLLOW},
    }};
    unsigned long flags = 0;
    for (auto [st_flag, ms_flag] : kMap)
        if (st.f_flag & st_flag) flags |= ms_flag;
    return flags;
}

}  // namespace hutch::rootfs
