// /proc/self/mountinfo, parsed: the host's mount table, read before the container's mounts (which
// parent mount holds the rootfs, which cgroup hierarchies there are) and in tests.
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "base/file.h"
#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

// Three octal digits after a backslash; anything else is kept as it is. Without std::stoi, which
// throws on "\\9..": the container's process reads mountinfo, and must not throw.
std::string unescape_mountinfo(const std::string& field) {
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
            octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') << 6 | (field[i + 2] - '0') << 3 |
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::optional<MountInfo> parse_mountinfo_line(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    auto sep = std::ranges::find(fields, "-");
    size_t sep_index = static_cast<size_t>(sep - fields.begin());
    if (sep == fields.end() || sep_index < 6 || sep_index + 3 > fields.size()) return std::nullopt;
    MountInfo mi;
    mi.id = std::strtoull(fields[0].c_str(), nullptr, 10);
    mi.parent_id = std::strtoull(fields[1].c_str(), nullptr, 10);
    mi.root = unescape_mountinfo(fields[3]);
    mi.mount_point = unescape_mountinfo(fields[4]);
    for (size_t i = 6; i < sep_index; ++i) {
        mi.shared = mi.shared || fields[i].starts_with("shared:");
        mi.unbindable = mi.unbindable || fields[i] == "unbindable";
    }
    mi.fs_type = fields[sep_index + 1];
    mi.source = unescape_mountinfo(fields[sep_index + 2]);
    if (sep_index + 3 < fields.size()) mi.super_options = fields[sep_index + 3];
    return mi;
}

}  // namespace

ErrorOr<std::vector<MountInfo>> read_mountinfo(const std::string& path) {
    std::string text = TRY(read_file(path));
    std::vector<MountInfo> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (auto mi = parse_mountinfo_line(line)) out.push_back(std::move(*mi));
    return out;
}

}  // namespace hutch::rootfs
