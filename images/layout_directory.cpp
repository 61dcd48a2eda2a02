// An OCI layout in a directory (layout_source.h).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file.h"
#include "images/layout_source.h"

namespace hutch::images {
namespace {

class LayoutDirectory : public LayoutSource {
public:
    LayoutDirectory(std::string directory, UniqueFd dir_fd)
        : directory_(std::move(directory)), dir_fd_(std::move(dir_fd)) {}

    ErrorOr<std::string> read_top(const std::string& name) override {
        auto fd = TRY(open_beneath(name));
        struct stat st {};
        if (fstat(fd.get(), &st) == -1) return fail_errno(shown(name) + ": stat");
        if (!S_ISREG(st.st_mode)) return fail(shown(name) + ": not a regular file");
        if (static_cast<uint64_t>(st.st_size) > kMaxDocumentSize) return fail(shown(name) + ": too large");
        return TRY_CTX(read_all(fd.get()), shown(name));
    }

    ErrorOr<void> ingest(ContentStore& store, const Descriptor& descriptor) override {
        std::string name = blob_path(descriptor.digest);
        auto fd = TRY(open_beneath(name));
        TRY_CTX(store.ingest(descriptor.digest, descriptor.size, fd_reader(fd.get())), shown(name));
        return {};
    }

private:
    std::string shown(const std::string& name) const { return directory_ + "/" + name; }

    // A symlink in the layout may point within it, never out of it, nor at a magic link.
    ErrorOr<UniqueFd> open_beneath(const std::string& name) const {
        open_how how{};
        how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, dir_fd_.get(), name.c_str(), &how, sizeof(how));
        if (fd == -1) return fail_errno("open " + shown(name));
        return UniqueFd(static_cast<int>(fd));
    }

    std::string directory_;
    UniqueFd dir_fd_;
};

}  // namespace

ErrorOr<std::unique_ptr<LayoutSource>> open_layout_directory(const std::string& directory) {
    int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + directory);
    return std::make_unique<LayoutDirectory>(directory, UniqueFd(fd));
}

}  // namespace hutch::images
