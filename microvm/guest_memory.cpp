#include "microvm/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include "microvm/hex.h"

namespace hutch::microvm {

ErrorOr<GuestMemory> GuestMemory::create(uint64_t size, bool mergeable) {
    if (size == 0 || size % static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) != 0)
        return fail("guest memory: " + std::to_string(size) + " bytes is not a whole number of pages");
    UniqueFd fd(TRY_SYS(::memfd_create("hutch-vm-ram", MFD_CLOEXEC), "guest memory: memfd_create"));
    TRY_SYS(::ftruncate(fd.get(), static_cast<off_t>(size)), "guest memory: ftruncate");
    // MAP_NORESERVE: a guest touches only what it uses, and the host should not count the rest.
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(), 0);
    if (base == MAP_FAILED) return fail_errno("guest memory: mmap of " + std::to_string(size >> 20) + " MiB");
    GuestMemory memory(std::move(fd), static_cast<uint8_t*>(base), size);
    if (mergeable && ::madvise(base, size, MADV_MERGEABLE) != 0)
        return fail_errno("guest memory: madvise(MADV_MERGEABLE) (is the kernel built with KSM?)");
    return memory;
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
    if (this != &other) {
        if (base_) ::munmap(base_, size_);
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

GuestMemory::~GuestMemory() {
    if (base_) ::munmap(base_, size_);
}

ErrorOr<std::span<uint8_t>> GuestMemory::range(uint64_t address, uint64_t length,
                                               std::string_view what) const {
    if (!contains(address, length))
        return fail(std::string(what) + ": " + std::to_string(length) + " bytes at " + hex(address) +
                    " are outside guest memory (" + std::to_string(size_ >> 20) + " MiB)");
    return std::span(base_ + address, length);
}

ErrorOr<void> GuestMemory::write(uint64_t address, std::span<const uint8_t> bytes,
                                 std::string_view what) const {
    auto target = TRY(range(address, bytes.size(), what));
    std::memcpy(target.data(), bytes.data(), bytes.size());
    return {};
}

ErrorOr<void> GuestMemory::write(uint64_t address, std::string_view bytes, std::string_view what) const {
    return write(address, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), what);
}

}  // namespace hutch::microvm
