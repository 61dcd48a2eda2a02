#include "cgroups/placement.h"

#include <algorithm>

namespace hutch::cgroups {
namespace {

// "a//b/./c/" -> "a/b/c": empty and "." components say nothing.
std::string normalize(std::string_view path) {
    std::string out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = std::min(path.find('/', start), path.size());
        std::string_view part = path.substr(start, end - start);
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = end + 1;
    }
    return out;
}

// This process's cgroup in hierarchy, relative to the hierarchy's mounted root: inside a
// container whose /sys/fs/cgroup shows only a sub-tree, /proc/self/cgroup still names the full
// path, and the mounted root must be taken off it.
ErrorOr<std::string> own_relative(const Hierarchy& hierarchy, const std::map<std::string, std::string>& own) {
    auto it = own.find(hierarchy.controllers.front());
    if (it == own.end()) {
        return fail("/proc/self/cgroup: no line for the " + hierarchy.controllers.front() +
                    " hierarchy mounted at " + hierarchy.mountpoint);
    }
    std::string path = normalize(it->second);
    std::string root = normalize(hierarchy.root);
    if (!root.empty() && (path == root || path.starts_with(root + "/"))) path.erase(0, root.size());
    return normalize(path);
}

std::string join(std::string_view a, std::string_view b) {
    std::string out(a);
    if (!b.empty()) out += "/" + std::string(b);
    return out;
}

}  // namespace

ErrorOr<void> validate_cgroups_path(std::string_view cgroups_path) {
    for (char c : cgroups_path) {
        if (static_cast<unsigned char>(c) < 0x20) return fail("linux.cgroupsPath: control character in path");
    }
    if (!cgroups_path.starts_with('/') && std::ranges::count(cgroups_path, ':') == 2) {
        return fail(
            "linux.cgroupsPath: \"" + std::string(cgroups_path) +
            "\" is in systemd's slice:prefix:name form: systemd's driver is asked for with --systemd-cgroup");
    }
    std::string_view rest = cgroups_path;
    while (!rest.empty()) {
        size_t end = std::min(rest.find('/'), rest.size());
        if (rest.substr(0, end) == "..") {
            return fail("linux.cgroupsPath: \"" + std::string(cgroups_path) + "\" has a \"..\" component");
        }
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    return {};
}

ErrorOr<std::vector<Placement>> resolve_placements(const std::vector<Hierarchy>& hierarchies,
                                                   const std::map<std::string, std::string>& own,
                                                   std::string_view cgroups_path,
                                                   std::string_view container_id) {
    std::string_view wanted = cgroups_path.empty() ? container_id : cgroups_path;
    TRY(validate_cgroups_path(wanted));
    std::string relative = normalize(wanted);
    if (relative.empty()) return fail("linux.cgroupsPath: \"" + std::string(wanted) + "\" names no cgroup");
    bool absolute = wanted.starts_with('/');
    std::vector<Placement> placements;
    for (const Hierarchy& hierarchy : hierarchies) {
        std::string base = hierarchy.mountpoint;
        if (!absolute) base = join(base, TRY(own_relative(hierarchy, own)));
        placements.push_back(Placement{hierarchy.controllers, join(base, relative), hierarchy.mountpoint});
    }
    if (placements.empty()) return fail("cgroups: no cgroup v1 hierarchy is mounted on this host");
    return placements;
}

const Placement* find_placement(const std::vector<Placement>& placements, std::string_view controller) {
    for (const Placement& placement : placements) {
        if (std::ranges::find(placement.controllers, controller) != placement.controllers.end())
            return &placement;
    }
    return nullptr;
}

}  // namespace hutch::cgroups
