// What the Stats readers (stats_v1.cpp, stats_v2.cpp) share: reading a counter, a limit or a
// flat-keyed file of a cgroup directory, where a file the host does not offer leaves the counter
// as it is. Internal to cgroups/.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::cgroups {

inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
inline constexpr uint64_t kNsPerUs = 1000;

// dir/file's text, or nullopt when the host does not offer the file (the controller is not
// there, or the kernel is older).
ErrorOr<std::optional<std::string>> read_if_offered(const std::string& dir, const std::string& file);

// Parses dir/file with parse (its errors then name the file); leaves out untouched when the
// file is not offered.
template <typename T, typename Parse>
ErrorOr<void> read_into(const std::string& dir, const std::string& file, T& out, Parse parse) {
    auto text = TRY(read_if_offered(dir, file));
    if (!text) return {};
    out = TRY_CTX(parse(*text), "cgroups: stats: " + dir + "/" + file);
    return {};
}

ErrorOr<void> read_counter(const std::string& dir, const std::string& file, uint64_t& out);

// "max" is unlimited: `unlimited` stands for it.
ErrorOr<void> read_limit(const std::string& dir, const std::string& file, uint64_t unlimited, uint64_t& out);

using Counters = std::map<std::string, uint64_t>;

// A flat-keyed file's pairs; none when the file is not offered.
ErrorOr<Counters> read_flat(const std::string& dir, const std::string& file);

uint64_t value_of(const Counters& counters, const std::string& key);

// Every hugetlb.SIZE.SUFFIX file of dir: v1's usage_in_bytes, v2's current.
ErrorOr<void> read_hugetlb(const std::string& dir, std::string_view suffix,
                           std::map<std::string, uint64_t>& out);

uint64_t saturating_add(uint64_t a, uint64_t b);

}  // namespace hutch::cgroups
