// Parsing the text of cgroup statistics files, for the Stats readers (stats.cpp). Pure functions
// on text, so that unit tests feed them without a kernel. Internal to cgroups/. Errors name what
// was wrong in the text; the caller prefixes the file's path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::cgroups {

// One unsigned decimal number, surrounding whitespace allowed: "123\n" -> 123.
ErrorOr<uint64_t> parse_counter(std::string_view text);

// A limit file: a number, or "max" (cgroup v2's "no limit") as unlimited.
ErrorOr<uint64_t> parse_limit(std::string_view text, uint64_t unlimited);

// Numbers separated by whitespace (cpuacct.usage_percpu): "10 20 30 \n" -> {10, 20, 30}.
ErrorOr<std::vector<uint64_t>> parse_counter_list(std::string_view text);

// A flat-keyed file, one "key value" pair a line (cpu.stat, memory.stat, memory.events,
// memory.oom_control): "usage_usec 123\nuser_usec 100\n" -> {usage_usec: 123, user_usec: 100}.
ErrorOr<std::map<std::string, uint64_t>> parse_flat_keyed(std::string_view text);

// The page size in a hugetlb file name, when name is PREFIX.SIZE.SUFFIX:
// ("hugetlb.2MB.usage_in_bytes", "usage_in_bytes") -> "2MB"; "" when it is not.
std::string hugetlb_page_size(std::string_view name, std::string_view suffix);

}  // namespace hutch::cgroups
