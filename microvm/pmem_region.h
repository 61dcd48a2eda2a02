// A host file mapped for a virtio-pmem device (virtio_pmem.h): the guest reads and writes it as
// memory, through a KVM memory slot of its own, with no copy in guest RAM. The mapping is
// MAP_SHARED, so the guest's pages are the host's page cache pages of the file: N VMs of one
// read-only image hold one copy of it in host memory.
//
// A read-only file is opened O_RDONLY and mapped PROT_READ, and its slot is KVM_MEM_READONLY
// (vm.h): a guest write to it leaves the guest as an MMIO exit that no device claims, and is
// dropped.
//
// The region's size is the file's rounded up to kPmemSizeAlign (2 MiB, the granularity at which
// Linux maps device memory, memremap_compat_align): the tail past the file's end reads as zeros,
// from an anonymous private mapping, and writes to it (read-write files only) never reach the
// file. An empty file is refused. A file the host truncates under a running guest leaves the
// guest's accesses to the lost pages without a page: KVM_RUN fails with EFAULT (or, on a
// software KVM such as kvm_pvm, the guest stalls until its time limit); the VMM itself never
// touches those pages, so it cannot take a SIGBUS for them.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm {

constexpr uint64_t kPmemSizeAlign = 2ull << 20;

class PmemRegion {
public:
    static ErrorOr<PmemRegion> open(const std::string& path, bool read_only);

    PmemRegion(PmemRegion&& other) noexcept;
    PmemRegion& operator=(PmemRegion&& other) noexcept;
    PmemRegion(const PmemRegion&) = delete;
    PmemRegion& operator=(const PmemRegion&) = delete;
    ~PmemRegion();

    uint8_t* host_address() const { return base_; }
    uint64_t size() const { return size_; }            // the region's, a multiple of kPmemSizeAlign
    uint64_t file_size() const { return file_size_; }  // the file's, when it was opened
    bool read_only() const { return read_only_; }
    int fd() const { return fd_.get(); }

private:
    PmemRegion(UniqueFd fd, uint8_t* base, uint64_t size, uint64_t file_size, bool read_only)
        : fd_(std::move(fd)), base_(base), size_(size), file_size_(file_size), read_only_(read_only) {}
    UniqueFd fd_;
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t file_size_ = 0;
    bool read_only_ = true;
};

}  // namespace hutch::microvm
