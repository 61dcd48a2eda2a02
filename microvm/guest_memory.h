// The guest's RAM: one memfd, mapped shared into hutch, which KVM maps into the guest at physical
// address 0. A memfd rather than anonymous memory, so that a later device process (virtiofsd, a
// vhost-user backend) can map the same pages from the fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm {

class GuestMemory {
public:
    // `size` bytes, a multiple of the page size. `mergeable` asks the kernel's same-page merging
    // (KSM, MADV_MERGEABLE) to share identical pages between VMs: less memory for many VMs of one
    // image, at the cost of a scanning thread and of the side channel that shared pages open, so
    // only when the user opts in.
    static ErrorOr<GuestMemory> create(uint64_t size, bool mergeable = false);

    GuestMemory(GuestMemory&& other) noexcept;
    GuestMemory& operator=(GuestMemory&& other) noexcept;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    ~GuestMemory();

    uint64_t size() const { return size_; }
    uint8_t* host_address() const { return base_; }
    int fd() const { return fd_.get(); }

    // Whether [address, address + length) lies inside guest RAM (no overflow).
    bool contains(uint64_t address, uint64_t length) const {
        return address <= size_ && length <= size_ - address;
    }
    // The bytes at [address, address + length), or an error naming `what` when they are not RAM.
    ErrorOr<std::span<uint8_t>> range(uint64_t address, uint64_t length, std::string_view what) const;
    ErrorOr<void> write(uint64_t address, std::span<const uint8_t> bytes, std::string_view what) const;
    ErrorOr<void> write(uint64_t address, std::string_view bytes, std::string_view what) const;

private:
    GuestMemory(UniqueFd fd, uint8_t* base, uint64_t size) : fd_(std::move(fd)), base_(base), size_(size) {}
    UniqueFd fd_;
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
};

// Writes a plain struct into guest memory.
template <typename T>
ErrorOr<void> write_struct(const GuestMemory& memory, uint64_t address, const T& value,
                           std::string_view what) {
    return memory.write(address, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof value), what);
}

}  // namespace hutch::microvm
