#include "images/rooted_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "base/directory.h"

namespace hutch::images {
namespace {

// Resolves rel (a relative path, "." for the root itself) inside root: symlinks met on the way
// are resolved as if root were "/", ".." stops at root, and /proc magic links are refused.
int openat2_in_root(int root_fd, const std::string& rel, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        long fd = syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
        // EAGAIN: a rename raced with the lookup; the kernel asks for a retry.
        if (fd == -1 && (errno == EINTR || errno == EAGAIN)) continue;
        return static_cast<int>(fd);
    }
}

std::string join(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) {
        if (i > 0) out += '/';
        out += parts[i];
    }
    return out.empty() ? "." : out;
}

}  // namespace

std::string RootedPath::str() const {
    if (is_root()) return ".";
    auto all = parent;
    all.push_back(name);
    return join(all, all.size());
}

ErrorOr<RootedPath> split_rooted_path(std::string_view name) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('/', start);
        if (end == std::string_view::npos) end = name.size();
        auto part = name.substr(start, end - start);
        if (part == "..") return fail("'..' leads out of the layer root");
        if (!part.empty() && part != ".") parts.emplace_back(part);
        start = end + 1;
    }
    RootedPath path;
    if (!parts.empty()) {
        path.name = std::move(parts.back());
        parts.pop_back();
        path.parent = std::move(parts);
    }
    return path;
}

ErrorOr<UniqueFd> open_dir_at(int dirfd, const std::string& name) {
    int fd = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + name);
    return UniqueFd(fd);
}

ErrorOr<UniqueFd> open_parent(int root_fd, const RootedPath& path, bool create) {
    const auto& parts = path.parent;
    int fd = openat2_in_root(root_fd, join(parts, parts.size()), O_PATH | O_DIRECTORY);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOENT || !create) return fail_errno("open " + join(parts, parts.size()));
    // Some directory on the way is missing: walk down, making each missing one. Every step is
    // resolved from the root again, so a symlink on the way still resolves inside the root.
    UniqueFd current(openat2_in_root(root_fd, ".", O_PATH | O_DIRECTORY));
    if (!current) return fail_errno("open the layer root");
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string prefix = join(parts, i + 1);
        int next = openat2_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
        if (next == -1 && errno == ENOENT) {
            // Made in the directory that the previous step resolved (inside the root); a
            // dangling symlink in its place makes mkdirat fail with EEXIST, never follow it.
            if (mkdirat(current.get(), parts[i].c_str(), 0755) == -1 && errno != EEXIST)
                return fail_errno("mkdir " + prefix);
            next = openat2_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
        }
        if (next == -1) return fail_errno("open " + prefix);
        current.reset(next);
    }
    return current;
}

ErrorOr<void> remove_tree_at(int dirfd, const std::string& name) {
    if (unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
    if (errno != EISDIR) return fail_errno("remove " + name);
    {
        auto dir_fd = TRY(open_dir_at(dirfd, name));
        for (const auto& [child, type] : TRY_CTX(list_directory_at(dir_fd.get()), name))
            TRY_CTX(remove_tree_at(dir_fd.get(), child), name);
    }
    if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == -1 && errno != ENOENT)
        return fail_errno("rmdir " + name);
    return {};
}

}  // namespace hutch::images
