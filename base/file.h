// Whole-file reads and writes, with the atomic replace that state files need.
#pragma once

#include <string>

#include "base/error.h"

namespace hutch {

ErrorOr<std::string> read_file(const std::string& path);
// Reads an open fd to its end.
ErrorOr<std::string> read_all(int fd);
// Reads a file relative to a directory fd (dirfd may be AT_FDCWD).
ErrorOr<std::string> read_file_at(int dirfd, const std::string& path);
// Writes all of data to an already open fd, retrying short writes and EINTR.
ErrorOr<void> write_all(int fd, std::string_view data);
// Opens path for writing (no create, no truncate) and writes data: for /proc and cgroup files.
ErrorOr<void> write_existing_file(const std::string& path, std::string_view data);
// Writes data to path atomically for readers: a temporary file in the same directory, renamed
// over path. No fsync: hutch's files (state, pid file, config) need not outlive a reboot.
ErrorOr<void> write_file_atomic(const std::string& path, std::string_view data);
// The same, relative to a directory fd.
ErrorOr<void> write_file_atomic_at(int dirfd, const std::string& path, std::string_view data);

// path against the current directory (unchanged when absolute or empty): for command-line paths
// that are used after a chdir, which runc takes relative to where it was called.
std::string absolute_from_cwd(const std::string& path);

}  // namespace hutch
