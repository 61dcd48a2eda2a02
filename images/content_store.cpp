#include "images/content_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "base/file.h"
#include "images/in_progress.h"
#include "images/store_lock.h"

namespace hutch::images {
namespace {

constexpr size_t kCopyBuffer = 128 * 1024;

// Copies what reader gives to fd, hashing it on the way; stops at the first byte past
// max_size, so that a hostile source cannot fill the disk. what names the blob in that error.
// sink, when given, gets each piece after the file.
ErrorOr<StoredBlob> copy_hashing(int fd, const std::string& algorithm, const BlobReader& reader,
                                 uint64_t max_size, const std::string& what, BlobSink* sink = nullptr) {
    auto hasher = TRY(Hasher::create(algorithm));
    std::vector<std::byte> buffer(kCopyBuffer);
    uint64_t total = 0;
    for (;;) {
        size_t n = TRY(reader(buffer));
        if (n == 0) break;
        total += n;
        if (total > max_size)
            return fail(what + ": more than the expected " + std::to_string(max_size) + " bytes");
        auto data = std::span<const std::byte>(buffer.data(), n);
        hasher.update(data);
        TRY(write_all(fd, std::string_view(reinterpret_cast<const char*>(data.data()), data.size())));
        if (sink != nullptr) TRY(sink->write(data));
    }
    return StoredBlob{TRY(hasher.finish()), total};
}

// Opens (creating when missing) a directory below dirfd.
ErrorOr<UniqueFd> open_or_make_dir(int dirfd, const std::string& name, const std::string& shown) {
    if (mkdirat(dirfd, name.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + shown);
    int fd = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + shown);
    return UniqueFd(fd);
}

// A temporary file in ingest/, unlinked when dropped unless commit() renamed it away.
class IngestFile {
public:
    // prefix: what the blob is ("sha256-<hex>" when known), for someone who looks at ingest/.
    // Made with the store's lock (lock_fd) held shared, and locked as in progress (in_progress.h)
    // while this lives: the garbage collector removes only those a dead maker left.
    static ErrorOr<IngestFile> create(int dirfd, int lock_fd, const std::string& prefix,
                                      const std::string& root) {
        std::array<unsigned char, 8> random{};
        if (getrandom(random.data(), random.size(), 0) != static_cast<ssize_t>(random.size()))
            return fail_errno("getrandom");
        std::string name = prefix + "-";
        for (unsigned char byte : random)
            name += "0123456789abcdef"[byte >> 4], name += "0123456789abcdef"[byte & 0xf];
        auto store_lock = TRY(StoreLock::take(lock_fd, LOCK_SH, root));
        int fd = openat(dirfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd == -1) return fail_errno("create " + root + "/ingest/" + name);
        IngestFile file(dirfd, std::move(name), UniqueFd(fd));
        TRY(lock_in_progress(file.fd(), root + "/ingest/" + file.name()));
        return file;
    }
    IngestFile(IngestFile&& other) noexcept
        : dirfd_(other.dirfd_), name_(std::move(other.name_)), fd_(std::move(other.fd_)) {
        other.name_.clear();
    }
    IngestFile(const IngestFile&) = delete;
    IngestFile& operator=(const IngestFile&) = delete;
    IngestFile& operator=(IngestFile&&) = delete;
    ~IngestFile() {
        if (!name_.empty()) unlinkat(dirfd_, name_.c_str(), 0);
    }
    int fd() const { return fd_.get(); }
    const std::string& name() const { return name_; }
    // The file was renamed into place: nothing is left to remove.
    void committed() { name_.clear(); }

private:
    IngestFile(int dirfd, std::string name, UniqueFd fd)
        : dirfd_(dirfd), name_(std::move(name)), fd_(std::move(fd)) {}
    int dirfd_;
    std::string name_;
    UniqueFd fd_;
};

}  // namespace

BlobReader fd_reader(int fd) {
    return [fd](std::span<std::byte> buffer) -> ErrorOr<size_t> {
        for (;;) {
            ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n >= 0) return static_cast<size_t>(n);
            if (errno != EINTR) return fail_errno("read");
        }
    };
}

BlobReader bytes_reader(std::string_view bytes) {
    return [bytes, offset = size_t{0}](std::span<std::byte> buffer) mutable -> ErrorOr<size_t> {
        size_t n = std::min(buffer.size(), bytes.size() - offset);
        std::memcpy(buffer.data(), bytes.data() + offset, n);
        offset += n;
        return n;
    };
}

ErrorOr<ContentStore> ContentStore::open(const std::string& root) {
    if (mkdir(root.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + root);
    int raw = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw == -1) return fail_errno("open " + root);
    UniqueFd root_fd(raw);
    auto blobs = TRY(open_or_make_dir(root_fd.get(), "blobs", root + "/blobs"));
    auto ingest = TRY(open_or_make_dir(root_fd.get(), "ingest", root + "/ingest"));
    auto lock = TRY(open_store_lock(root_fd.get(), root));
    return ContentStore(root, std::move(root_fd), std::move(ingest), std::move(lock));
}

ErrorOr<UniqueFd> ContentStore::algorithm_dir(const std::string& algorithm) const {
    // The algorithm comes from a parsed Digest ("sha256" or "sha512"), never a path of its own.
    return open_or_make_dir(root_fd_.get(), "blobs/" + algorithm, root_ + "/blobs/" + algorithm);
}

ErrorOr<void> ContentStore::copy_checked(int fd, const Digest& expected, uint64_t expected_size,
                                         const BlobReader& reader, BlobSink* sink) const {
    auto copied =
        TRY(copy_hashing(fd, expected.algorithm, reader, expected_size, "blob " + expected.str(), sink));
    if (copied.size != expected_size)
        return fail("blob " + expected.str() + ": " + std::to_string(copied.size) + " bytes, expected " +
                    std::to_string(expected_size));
    if (copied.digest != expected)
        return fail("blob " + expected.str() + ": content has digest " + copied.digest.str());
    return {};
}

ErrorOr<void> ContentStore::hold(const Digest& digest) const {
    if (!lease_) lease_ = std::make_unique<Lease>(TRY(Lease::take(root_fd_.get(), root_)));
    return lease_->add(digest);
}

ErrorOr<void> ContentStore::ingest(const Digest& expected, uint64_t expected_size, const BlobReader& reader,
                                   BlobSink* sink) {
    TRY(hold(expected));
    TRY(algorithm_dir(expected.algorithm));  // made first: a refused blob still leaves the tree whole
    // Written and checked outside the lock, so that a slow download never blocks other ingests.
    auto temp = TRY(
        IngestFile::create(ingest_fd_.get(), lock_fd_.get(), expected.algorithm + "-" + expected.hex, root_));
    TRY(copy_checked(temp.fd(), expected, expected_size, reader, sink));
    if (sink != nullptr) TRY(sink->finish());
    if (TRY(commit(temp.fd(), temp.name(), expected))) temp.committed();
    return {};
}

ErrorOr<StoredBlob> ContentStore::ingest_computed(const BlobReader& reader) {
    auto temp = TRY(IngestFile::create(ingest_fd_.get(), lock_fd_.get(), "computed", root_));
    auto copied =
        TRY(copy_hashing(temp.fd(), "sha256", reader, std::numeric_limits<uint64_t>::max(), "blob"));
    TRY(hold(copied.digest));  // before it is visible in blobs/, or before relying on the one there
    if (TRY(commit(temp.fd(), temp.name(), copied.digest))) temp.committed();
    return copied;
}

ErrorOr<bool> ContentStore::commit(int temp_fd, const std::string& temp_name, const Digest& digest) {
    auto dir = TRY(algorithm_dir(digest.algorithm));
    if (fsync(temp_fd) == -1) return fail_errno("fsync " + root_ + "/ingest/" + temp_name);

    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_EX, root_));
    struct stat st {};
    if (fstatat(dir.get(), digest.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return false;  // already stored
    // renameat2(RENAME_NOREPLACE): even a writer that ignored the lock could not replace a blob.
    if (renameat2(ingest_fd_.get(), temp_name.c_str(), dir.get(), digest.hex.c_str(), RENAME_NOREPLACE) ==
        -1) {
        if (errno == EEXIST) return false;
        return fail_errno("blob " + digest.str() + ": rename into " + root_ + "/blobs");
    }
    // The rename is durable only once the directory that holds the new name is.
    if (fsync(dir.get()) == -1) return fail_errno("fsync " + root_ + "/blobs/" + digest.algorithm);
    return true;
}

ErrorOr<bool> ContentStore::has(const Digest& digest) const {
    TRY(hold(digest));  // before the look-up: a collection after it must not take what it found
    auto dir = TRY(algorithm_dir(digest.algorithm));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_SH, root_));
    struct stat st {};
    if (fstatat(dir.get(), digest.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return S_ISREG(st.st_mode);
    if (errno == ENOENT) return false;
    return fail_errno("blob " + digest.str() + ": stat");
}

ErrorOr<UniqueFd> ContentStore::open_blob(const Digest& digest) const {
    TRY(hold(digest));
    auto dir = TRY(algorithm_dir(digest.algorithm));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_SH, root_));
    int fd = openat(dir.get(), digest.hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) return fail_errno("blob " + digest.str() + ": open");
    return UniqueFd(fd);
}

ErrorOr<void> ContentStore::remove(const Digest& digest) {
    auto dir = TRY(algorithm_dir(digest.algorithm));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_EX, root_));
    if (unlinkat(dir.get(), digest.hex.c_str(), 0) == -1)
        return fail_errno("blob " + digest.str() + ": remove");
    return {};
}

}  // namespace hutch::images
