#include "cgroups/systemd_path.h"

#include <algorithm>
#include <vector>

namespace hutch::cgroups {
namespace {

constexpr std::string_view kSliceSuffix = ".slice";
constexpr size_t kUnitNameMax = 255;  // systemd's UNIT_NAME_MAX, less its NUL

// systemd's unit_name_is_valid(): letters, digits and ":-_.\" ('\' starts an escape).
bool valid_unit_chars(std::string_view name) {
    return std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view(":-_.\\").find(c) != std::string_view::npos;
    });
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (size_t pos = 0;;) {
        size_t end = text.find(separator, pos);
        parts.push_back(text.substr(pos, end == std::string_view::npos ? end : end - pos));
        if (end == std::string_view::npos) return parts;
        pos = end + 1;
    }
}

std::unexpected<Error> bad_path(std::string_view cgroups_path, std::string_view why) {
    return fail("linux.cgroupsPath: \"" + std::string(cgroups_path) + "\": " + std::string(why));
}

}  // namespace

ErrorOr<std::string> expand_slice(std::string_view slice) {
    auto refuse = [&](std::string_view why) {
        return fail("slice \"" + std::string(slice) + "\": " + std::string(why));
    };
    if (slice.size() <= kSliceSuffix.size() || !slice.ends_with(kSliceSuffix))
        return refuse("a slice's name is NAME.slice");
    if (slice.size() > kUnitNameMax || !valid_unit_chars(slice))
        return refuse("not a valid systemd unit name (letters, digits and \":-_.\\\", at most 255)");
    std::string_view name = slice.substr(0, slice.size() - kSliceSuffix.size());
    if (name == "-") return std::string("/");
    std::string path, prefix;
    for (std::string_view component : split(name, '-')) {
        if (component.empty()) return refuse("an empty component (\"--\", or a leading or trailing \"-\")");
        path += "/" + prefix + std::string(component) + std::string(kSliceSuffix);
        prefix += std::string(component) + "-";
    }
    return path;
}

ErrorOr<SystemdPlace> resolve_systemd_path(std::string_view cgroups_path, std::string_view container_id) {
    std::string slice = "system.slice", prefix = "hutch", name(container_id);
    if (!cgroups_path.empty()) {
        std::vector<std::string_view> parts = split(cgroups_path, ':');
        if (parts.size() != 3)
            return bad_path(cgroups_path, "with --systemd-cgroup it is \"slice:prefix:name\"");
        if (!parts[0].empty()) slice = parts[0];
        prefix = parts[1];
        name = parts[2];
    }
    if (name.empty()) return bad_path(cgroups_path, "the name (after the second ':') is empty");
    if (name.ends_with(kSliceSuffix))
        return bad_path(cgroups_path,
                        "a name ending in .slice (a slice of the container's own) is not supported yet");
    std::string unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
    if (unit.size() > kUnitNameMax || !valid_unit_chars(unit)) {
        return bad_path(cgroups_path,
                        "\"" + unit +
                            "\" is not a valid systemd unit name (letters, digits and \":-_.\\\", "
                            "at most 255)");
    }
    std::string slice_path = TRY_CTX(expand_slice(slice), "linux.cgroupsPath");
    std::string dir = "/sys/fs/cgroup" + (slice_path == "/" ? "" : slice_path) + "/" + unit;
    return SystemdPlace{std::move(slice), std::move(unit), std::move(dir)};
}

}  // namespace hutch::cgroups
