#include "cgroups/hierarchies.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>

#include "base/file.h"

namespace hutch::cgroups {
namespace {

// The v1 controllers a container can be placed in; other mount options (rw, xattr, noprefix,
// release_agent=...) share the same comma-separated field and are not controllers.
constexpr std::array<std::string_view, 15> kKnownControllers = {
    "cpu",     "cpuacct",  "cpuset",  "memory", "devices", "freezer", "blkio",     "pids",
    "net_cls", "net_prio", "hugetlb", "rdma",   "misc",    "debug",   "perf_event"};
constexpr std::string_view kSystemdName = "name=systemd";

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t end = text.find(sep, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string unescape_octal(std::string_view field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) &&
            is_octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::vector<std::string> controllers_in_options(std::string_view super_options) {
    std::vector<std::string> found;
    for (std::string_view option : split(super_options, ',')) {
        bool known = std::ranges::find(kKnownControllers, option) != kKnownControllers.end();
        if (known || option == kSystemdName) found.emplace_back(option);
    }
    return found;
}

// One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER".
std::optional<Hierarchy> parse_mount_line(std::string_view line) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) return std::nullopt;
    std::vector<std::string_view> left = split(line.substr(0, dash), ' ');
    std::vector<std::string_view> right = split(line.substr(dash + 3), ' ');
    if (left.size() < 6 || right.size() < 3 || right[0] != "cgroup") return std::nullopt;
    Hierarchy hierarchy{controllers_in_options(right[2]), unescape_octal(left[4]), unescape_octal(left[3])};
    if (hierarchy.controllers.empty()) return std::nullopt;
    return hierarchy;
}

}  // namespace

bool has_controller(const Hierarchy& hierarchy, std::string_view controller) {
    return std::ranges::find(hierarchy.controllers, controller) != hierarchy.controllers.end();
}

std::vector<Hierarchy> parse_v1_mountinfo(std::string_view mountinfo) {
    std::vector<Hierarchy> hierarchies;
    for (std::string_view line : split(mountinfo, '\n')) {
        std::optional<Hierarchy> parsed = parse_mount_line(line);
        if (!parsed) continue;
        auto same = std::ranges::find_if(
            hierarchies, [&](const Hierarchy& known) { return known.controllers == parsed->controllers; });
        if (same == hierarchies.end()) {
            hierarchies.push_back(std::move(*parsed));
        } else if (same->root != "/" && parsed->root == "/") {
            // A bind mount of a sub-cgroup was seen first; the whole hierarchy is the better base.
            *same = std::move(*parsed);
        }
    }
    return hierarchies;
}

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
    std::map<std::string, std::string> own;
    for (std::string_view line : split(text, '\n')) {
        size_t first = line.find(':');
        size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        std::string_view controllers = line.substr(first + 1, second - first - 1);
        std::string path(line.substr(second + 1));
        if (controllers.empty()) {
            own[""] = path;
            continue;
        }
        for (std::string_view controller : split(controllers, ',')) own[std::string(controller)] = path;
    }
    return own;
}

ErrorOr<std::vector<Hierarchy>> host_v1_hierarchies() {
    std::string text = TRY(read_file("/proc/self/mountinfo"));
    return parse_v1_mountinfo(text);
}

ErrorOr<std::map<std::string, std::string>> own_cgroups() {
    std::string text = TRY(read_file("/proc/self/cgroup"));
    return parse_proc_cgroup(text);
}

bool host_is_pure_v2() { return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

}  // namespace hutch::cgroups
