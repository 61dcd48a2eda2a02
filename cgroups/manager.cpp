// Picking the driver for the host's layout, reopening one from a container's state, and what
// the drivers share.
#include <signal.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "cgroups/cgroup_files.h"
#include "cgroups/drivers.h"
#include "cgroups/hierarchies.h"
#include "cgroups/systemd.h"

namespace hutch::cgroups {
namespace {

ErrorOr<std::unique_ptr<Manager>> make_v1_half(const std::map<std::string, std::string>& own,
                                               const std::string& cgroups_path, const std::string& id) {
    std::vector<Hierarchy> hierarchies = TRY(host_v1_hierarchies());
    std::vector<Placement> placements = TRY(resolve_placements(hierarchies, own, cgroups_path, id));
    return make_v1_manager(std::move(placements), {});
}

Layout layout_in(const std::map<std::string, std::string>& paths) {
    auto it = paths.find(kLayoutKey);
    if (it != paths.end() && it->second == layout_name(Layout::v2)) return Layout::v2;
    if (it != paths.end() && it->second == layout_name(Layout::hybrid)) return Layout::hybrid;
    return Layout::v1;
}

}  // namespace

ErrorOr<std::string> resolve_v2_dir(const std::string& mountpoint,
                                    const std::map<std::string, std::string>& own,
                                    std::string_view cgroups_path, std::string_view container_id) {
    std::string_view wanted = cgroups_path.empty() ? container_id : cgroups_path;
    TRY(validate_cgroups_path(wanted));
    std::filesystem::path dir = mountpoint;
    if (!wanted.starts_with('/')) {
        auto it = own.find("");
        if (it == own.end()) return fail("/proc/self/cgroup: no cgroup v2 line (0::PATH)");
        dir += std::filesystem::path(it->second).parent_path();
    }
    // Its relative part: operator/ with an absolute path would replace the mountpoint.
    dir /= std::filesystem::path(wanted).relative_path();
    std::string out = dir.lexically_normal();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    if (out == mountpoint || !out.starts_with(mountpoint + "/"))
        return fail("linux.cgroupsPath: \"" + std::string(wanted) + "\" names no cgroup");
    return out;
}

bool needs_unified_hierarchy(const spec::Resources& resources) {
    return !resources.hugepage_limits.empty() || !resources.unified.empty();
}

ErrorOr<std::unique_ptr<Manager>> make_manager(Layout layout, const std::string& cgroups_path,
                                               const std::string& container_id,
                                               const spec::Resources* resources) {
    std::map<std::string, std::string> own = TRY(own_cgroups());
    if (layout == Layout::v2) {
        return make_v2_manager(TRY(resolve_v2_dir("/sys/fs/cgroup", own, cgroups_path, container_id)), {});
    }
    auto v1 = TRY(make_v1_half(own, cgroups_path, container_id));
    if (layout == Layout::v1 || !resources || !needs_unified_hierarchy(*resources)) return v1;
    std::string unified = TRY(resolve_v2_dir("/sys/fs/cgroup/unified", own, cgroups_path, container_id));
    return make_hybrid_manager(std::move(v1), make_v2_manager(std::move(unified), {}, true));
}

ErrorOr<UniqueFd> Manager::open_exec_target(const std::string& sub) const {
    if (!sub.empty()) return fail("--cgroup " + sub + ": a sub-cgroup needs cgroup v2");
    return UniqueFd();
}

std::map<std::string, std::string> paths_before_create(const Manager& manager) {
    std::map<std::string, std::string> paths = manager.paths();
    // systemd makes (and removes) its scope's directory itself.
    if (is_systemd_paths(paths)) return paths;
    std::vector<std::string> leaves;
    for (const auto& [key, dir] : paths)
        if (key != kLayoutKey && key != kCreatedKey && std::ranges::find(leaves, dir) == leaves.end())
            leaves.push_back(dir);
    paths[kCreatedKey] = join_lines(leaves);
    return paths;
}

std::unique_ptr<Manager> manager_from_paths(const std::map<std::string, std::string>& paths) {
    if (is_systemd_paths(paths)) return reopen_systemd_manager(paths);
    Layout layout = layout_in(paths);
    std::string unified;
    std::vector<Placement> placements;
    for (const auto& [key, dir] : paths) {
        if (key == kLayoutKey || key == kCreatedKey) continue;
        if (key == kUnifiedKey) {
            unified = dir;
            continue;
        }
        auto same = std::ranges::find(placements, dir, &Placement::dir);
        if (same == placements.end()) {
            placements.push_back(Placement{{key}, dir});
        } else {
            same->controllers.push_back(key);
        }
    }
    auto created_it = paths.find(kCreatedKey);
    std::vector<std::string> created =
        created_it == paths.end() ? std::vector<std::string>{} : split_lines(created_it->second);
    if (layout == Layout::v2) return make_v2_manager(unified, std::move(created));
    if (layout == Layout::v1 || unified.empty())
        return make_v1_manager(std::move(placements), std::move(created));
    // Hybrid: the unified half made the unified directory and those of its parents that it made.
    std::vector<std::string> made_unified, made_v1;
    for (std::string& dir : created) {
        (dir.starts_with("/sys/fs/cgroup/unified/") ? made_unified : made_v1).push_back(std::move(dir));
    }
    return make_hybrid_manager(make_v1_manager(std::move(placements), std::move(made_v1)),
                               make_v2_manager(unified, std::move(made_unified), true));
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find('\n', pos), text.size());
        if (end > pos) lines.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return lines;
}

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find_first_of(" \n", pos), text.size());
        if (end > pos) words.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return words;
}

ErrorOr<void> remove_cgroup_trees(const std::vector<std::string>& created) {
    ErrorOr<void> result;
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
        auto removed = remove_cgroup_tree(*it);
        if (result && !removed) result = removed;
    }
    return result;
}

ErrorOr<void> destroy_created(Manager& manager, std::vector<std::string>& created, bool owns_leaf) {
    if (std::all_of(created.rbegin(), created.rend(), try_remove_cgroup_dir)) {
        created.clear();
        return {};
    }
    if (owns_leaf) {
        auto left = manager.pids();
        if (!left || !left->empty()) (void)manager.signal_all(SIGKILL);
    }
    TRY(remove_cgroup_trees(created));
    created.clear();
    return {};
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
    return out;
}

ErrorOr<std::vector<pid_t>> read_pids_tree(const std::string& dir) {
    std::vector<pid_t> pids;
    std::error_code ec;
    std::vector<std::string> dirs = {dir};
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    for (const std::string& at : dirs) {
        auto text = read_file(at + "/cgroup.procs");
        if (!text && text.error().code == ENOENT) continue;  // removed meanwhile
        if (!text) return std::unexpected(text.error().context("cgroups"));
        for (const std::string& line : split_lines(*text)) {
            pid_t pid = 0;
            for (char c : line) pid = c >= '0' && c <= '9' ? pid * 10 + (c - '0') : pid;
            if (pid > 0) pids.push_back(pid);
        }
    }
    std::ranges::sort(pids);
    auto [first, last] = std::ranges::unique(pids);
    pids.erase(first, last);
    return pids;
}

ErrorOr<void> kill_each(const std::vector<pid_t>& pids, int sig) {
    for (pid_t pid : pids) {
        if (::kill(pid, sig) != 0 && errno != ESRCH)
            return fail_errno("cgroups: kill " + std::to_string(pid));
    }
    return {};
}

}  // namespace hutch::cgroups
