// Reading and writing cgroup control files, and making and removing cgroup directories.
// Internal to cgroups/. Errors name the spec field a write came from, the value and the file.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::cgroups {

bool cgroup_file_exists(const std::string& dir, std::string_view file);

// Writes value to dir/file in one write(). On failure: "FIELD: write VALUE to PATH: REASON",
// where a missing file reads "not offered by this host's kernel".
ErrorOr<void> write_cgroup_file(const std::string& dir, std::string_view file, std::string_view value,
                                std::string_view field);

// Writes each value to dir/file in its own write(), through one open (devices.allow takes one
// rule per write). Errors as write_cgroup_file's.
ErrorOr<void> write_cgroup_lines(const std::string& dir, std::string_view file,
                                 std::span<const std::string> values, std::string_view field);

// Reads dir/file with surrounding whitespace trimmed.
ErrorOr<std::string> read_cgroup_file(const std::string& dir, std::string_view file);

// mkdir -p dir; appends each directory it made, parents first, to created.
ErrorOr<void> make_cgroup_dirs(const std::string& dir, std::vector<std::string>& created);

// rmdir of an empty cgroup, once: true when it is gone (or was never there).
bool try_remove_cgroup_dir(const std::string& dir);

// rmdir dir, retrying EBUSY for about a second while the processes inside finish exiting.
// A directory already gone is not an error.
ErrorOr<void> remove_cgroup_dir(const std::string& dir);

// Removes dir and every cgroup below it (those a container made inside its own), deepest first,
// as remove_cgroup_dir() does each one.
ErrorOr<void> remove_cgroup_tree(const std::string& dir);

}  // namespace hutch::cgroups
