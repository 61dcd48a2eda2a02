#include "images_layers.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace hutch::test {

std::string random_bytes(size_t size) {
    std::string bytes(size, '\0');
    std::ifstream random("/dev/urandom", std::ios::binary);
    random.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(random.good());
    return bytes;
}

namespace {

struct FreeWriter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct FreeEntry {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append(archive*, void* out, const void* data, size_t size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
    return static_cast<la_ssize_t>(size);
}

}  // namespace

std::string make_layer(const std::vector<LayerEntry>& entries, LayerCompression compression) {
    std::string out;
    std::unique_ptr<archive, FreeWriter> writer(archive_write_new());
    REQUIRE(archive_write_set_format_pax(writer.get()) == ARCHIVE_OK);
    if (compression == LayerCompression::gzip)
        REQUIRE(archive_write_add_filter_gzip(writer.get()) == ARCHIVE_OK);
    if (compression == LayerCompression::zstd)
        REQUIRE(archive_write_add_filter_zstd(writer.get()) == ARCHIVE_OK);
    // No padding of the last block to 10 KiB: the stream ends where the tar does.
    REQUIRE(archive_write_set_bytes_in_last_block(writer.get(), 1) == ARCHIVE_OK);
    REQUIRE(archive_write_open(writer.get(), &out, nullptr, append, nullptr) == ARCHIVE_OK);
    for (const auto& spec : entries) {
        std::unique_ptr<archive_entry, FreeEntry> entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), spec.name.c_str());
        archive_entry_set_uid(entry.get(), spec.uid);
        archive_entry_set_gid(entry.get(), spec.gid);
        archive_entry_set_mtime(entry.get(), spec.mtime, 0);
        for (const auto& [name, value] : spec.xattrs)
            archive_entry_xattr_add_entry(entry.get(), name.c_str(), value.data(), value.size());
        if (!spec.hardlink.empty()) {
            archive_entry_set_filetype(entry.get(), AE_IFREG);
            archive_entry_set_perm(entry.get(), spec.mode);
            archive_entry_set_hardlink(entry.get(), spec.hardlink.c_str());
            archive_entry_set_size(entry.get(), 0);
        } else {
            archive_entry_set_filetype(entry.get(), spec.type);
            archive_entry_set_perm(entry.get(), spec.mode);
            archive_entry_set_size(entry.get(), spec.type == AE_IFREG ? spec.content.size() : 0);
            for (auto [offset, length] : spec.sparse)
                archive_entry_sparse_add_entry(entry.get(), offset, length);
            if (spec.type == AE_IFLNK) archive_entry_set_symlink(entry.get(), spec.link.c_str());
            if (spec.type == AE_IFCHR || spec.type == AE_IFBLK) {
                archive_entry_set_rdevmajor(entry.get(), spec.major);
                archive_entry_set_rdevminor(entry.get(), spec.minor);
            }
        }
        REQUIRE(archive_write_header(writer.get(), entry.get()) == ARCHIVE_OK);
        if (spec.type == AE_IFREG && spec.hardlink.empty() && !spec.content.empty())
            REQUIRE(archive_write_data(writer.get(), spec.content.data(), spec.content.size()) ==
                    static_cast<la_ssize_t>(spec.content.size()));
    }
    REQUIRE(archive_write_close(writer.get()) == ARCHIVE_OK);
    return out;
}

int memory_fd(const std::string& data) {
    int fd = memfd_create("hutch-test-layer", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

std::map<std::string, std::string> describe_tree(const std::string& root) {
    std::map<std::string, std::string> tree;
    namespace fs = std::filesystem;
    for (const auto& item : fs::recursive_directory_iterator(root)) {
        struct stat st {};
        REQUIRE(lstat(item.path().c_str(), &st) == 0);
        std::ostringstream line;
        line << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid << " size "
             << st.st_size << " nlink " << st.st_nlink << " mtime " << st.st_mtim.tv_sec;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            line << " dev " << major(st.st_rdev) << "," << minor(st.st_rdev);
        if (S_ISLNK(st.st_mode)) line << " -> " << fs::read_symlink(item.path()).string();
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(item.path());
            line << " [" << std::string(std::istreambuf_iterator<char>(in), {}) << "]";
        }
        tree[item.path().lexically_relative(root).string()] = line.str();
    }
    return tree;
}

std::string tree_difference(const std::map<std::string, std::string>& a,
                            const std::map<std::string, std::string>& b) {
    std::string out;
    auto keys = a;
    keys.insert(b.begin(), b.end());
    for (const auto& [path, unused] : keys) {
        auto left = a.contains(path) ? a.at(path) : "(missing)";
        auto right = b.contains(path) ? b.at(path) : "(missing)";
        if (left != right) out += path + ": " + left.substr(0, 120) + " | " + right.substr(0, 120) + "\n";
    }
    return out;
}

}  // namespace hutch::test
