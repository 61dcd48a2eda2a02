// Test layers made with libarchive's writer, so that any entry can be crafted (hostile ones
// included), and a look at the unpacked tree. For the images/ tests.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hutch::test {

enum class LayerCompression { none, gzip, zstd };

// One entry to write; set only what the entry needs.
struct LayerEntry {
    std::string name;
    mode_t type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO
    mode_t mode = 0644;
    std::string content = {};   // a regular file's data
    std::string link = {};      // a symlink's target
    std::string hardlink = {};  // when set, a hardlink to this earlier name
    uid_t uid = 0;
    gid_t gid = 0;
    time_t mtime = 1700000000;
    unsigned major = 0, minor = 0;
    std::vector<std::pair<std::string, std::string>> xattrs = {};
    // A sparse file: the (offset, length) of its data; content is the whole file, holes as zeros.
    std::vector<std::pair<int64_t, int64_t>> sparse = {};
};

// The layer's bytes: a pax tar of the entries, compressed as asked.
// size bytes from /dev/urandom: content no compressor shrinks.
std::string random_bytes(size_t size);

std::string make_layer(const std::vector<LayerEntry>& entries,
                       LayerCompression compression = LayerCompression::none);

// An fd (memfd) holding data, read from its start; the caller closes it.
int memory_fd(const std::string& data);

// Every path below root (relative), with type, mode, owner, size, mtime, device, link target and
// content of each: two trees unpacked alike compare equal.
std::map<std::string, std::string> describe_tree(const std::string& root);
// The paths where two descriptions differ, with both sides ("" when they are the same): a failed
// CHECK then says what differs.
std::string tree_difference(const std::map<std::string, std::string>& a,
                            const std::map<std::string, std::string>& b);

}  // namespace hutch::test
