#include "microvm/pmem_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace hutch::microvm {

namespace {

uint64_t round_up(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

// Reserves `size` bytes of zeros (the padding), then maps the file over their start, so that the
// region is one range of addresses for one KVM slot.
ErrorOr<uint8_t*> map_file(int fd, uint64_t file_size, uint64_t size, bool read_only,
                           const std::string& what) {
    int protection = read_only ? PROT_READ : PROT_READ | PROT_WRITE;
    void* reserved = ::mmap(nullptr, size, protection, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) return fail_errno(what + ": reserve " + std::to_string(size) + " bytes");
    uint64_t file_pages = round_up(file_size, static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
    void* mapped = ::mmap(reserved, file_pages, protection, MAP_SHARED | MAP_FIXED, fd, 0);
    if (mapped == MAP_FAILED) {
        auto error = fail_errno(what + ": mmap");
        ::munmap(reserved, size);
        return error;
    }
    return static_cast<uint8_t*>(reserved);
}

}  // namespace

ErrorOr<PmemRegion> PmemRegion::open(const std::string& path, bool read_only) {
    std::string what = "pmem " + path;
    UniqueFd fd(TRY_SYS(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC), what));
    struct stat st = {};
    TRY_SYS(::fstat(fd.get(), &st), what);
    if (!S_ISREG(st.st_mode)) return fail(what + ": not a regular file");
    if (st.st_size == 0) return fail(what + ": an empty file, nothing to map");
    auto file_size = static_cast<uint64_t>(st.st_size);
    uint64_t size = round_up(file_size, kPmemSizeAlign);
    uint8_t* base = TRY(map_file(fd.get(), file_size, size, read_only, what));
    return PmemRegion(std::move(fd), base, size, file_size, read_only);
}

PmemRegion::PmemRegion(PmemRegion&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      file_size_(other.file_size_),
      read_only_(other.read_only_) {}

PmemRegion& PmemRegion::operator=(PmemRegion&& other) noexcept {
    if (this != &other) {
        if (base_) ::munmap(base_, size_);
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
        file_size_ = other.file_size_;
        read_only_ = other.read_only_;
    }
    return *this;
}

PmemRegion::~PmemRegion() {
    if (base_) ::munmap(base_, size_);
}

}  // namespace hutch::microvm
