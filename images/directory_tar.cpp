#include "images/directory_tar.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "base/directory.h"
#include "base/fd.h"

namespace hutch::images {
namespace {

struct FreeDisk {
    void operator()(archive* a) const { archive_read_free(a); }
};
struct FreeEntry {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};
struct FreeResolver {
    void operator()(archive_entry_linkresolver* r) const { archive_entry_linkresolver_free(r); }
};

class DirectoryWalk {
public:
    DirectoryWalk(archive* disk, archive_entry_linkresolver* links, TarWriter& tar)
        : disk_(disk), links_(links), tar_(tar) {}

    // Every entry below path (an absolute or cwd-relative path), named prefix + its name.
    ErrorOr<void> walk(const std::string& path, const std::string& prefix) {
        for (const auto& name : TRY(sorted_names(path))) {
            std::string child = path + "/" + name;
            std::string member = prefix + name;
            struct stat st {};
            if (lstat(child.c_str(), &st) != 0) return fail_errno(child);
            if (S_ISSOCK(st.st_mode)) continue;
            TRY(add(child, member, st));
            if (S_ISDIR(st.st_mode)) TRY(walk(child, member + "/"));
        }
        return {};
    }

private:
    static ErrorOr<std::vector<std::string>> sorted_names(const std::string& path) {
        std::vector<std::string> names;
        for (auto& [name, type] : TRY(list_directory(path))) names.push_back(std::move(name));
        std::ranges::sort(names);
        return names;
    }

    ErrorOr<void> add(const std::string& path, const std::string& member, const struct stat& st) {
        std::unique_ptr<archive_entry, FreeEntry> entry(archive_entry_new());
        if (!entry) return fail("archive_entry_new: out of memory");
        archive_entry_copy_sourcepath(entry.get(), path.c_str());
        archive_entry_copy_pathname(entry.get(), member.c_str());
        // A regular file is read through the fd its metadata came from, so both are one file.
        UniqueFd fd;
        if (S_ISREG(st.st_mode)) {
            fd.reset(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) return fail_errno(path);
        }
        if (archive_read_disk_entry_from_file(disk_, entry.get(), fd ? fd.get() : -1, &st) < ARCHIVE_WARN) {
            const char* message = archive_error_string(disk_);
            return fail(path + ": " + (message ? message : "unreadable"));
        }
        // Access and change times differ from one read of the tree to the next: without them,
        // the same tree always gives the same layer.
        archive_entry_unset_atime(entry.get());
        archive_entry_unset_ctime(entry.get());
        archive_entry_unset_birthtime(entry.get());
        // The first of a file's links keeps its data; the others become hardlinks to it.
        archive_entry* linked = entry.get();
        archive_entry* spare = nullptr;
        if (!S_ISDIR(st.st_mode)) archive_entry_linkify(links_, &linked, &spare);
        if (!linked) return {};
        BlobReader data = fd_reader(fd.get());
        return tar_.add_entry(linked, fd ? &data : nullptr);
    }

    archive* disk_;
    archive_entry_linkresolver* links_;
    TarWriter& tar_;
};

}  // namespace

ErrorOr<void> write_directory_tar(const std::string& directory, TarWriter& tar) {
    std::unique_ptr<archive, FreeDisk> disk(archive_read_disk_new());
    if (!disk) return fail("archive_read_disk_new: out of memory");
    // No archive_read_disk_set_standard_lookup: only numeric owners go into the layer.
    archive_read_disk_set_symlink_physical(disk.get());
    std::unique_ptr<archive_entry_linkresolver, FreeResolver> links(archive_entry_linkresolver_new());
    if (!links) return fail("archive_entry_linkresolver_new: out of memory");
    archive_entry_linkresolver_set_strategy(links.get(), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    struct stat st {};
    if (stat(directory.c_str(), &st) != 0) return fail_errno(directory);
    if (!S_ISDIR(st.st_mode)) return fail(directory + ": not a directory");
    DirectoryWalk walk(disk.get(), links.get(), tar);
    return walk.walk(directory, "");
}

}  // namespace hutch::images
