// virtio-pmem (virtio 1.2 section 5.19, device id 27) on a host file (pmem_region.h): the
// configuration space gives the guest-physical {start, size} of the region, which the guest
// maps as memory (with erofs or ext4 and DAX, straight from the host's page cache). One request
// queue, for FLUSH only: the guest asks that what it wrote reach the file, and the device answers
// after fdatasync. A read-only region has nothing the guest could have written, so its FLUSH
// answers 0 (success) at once, as a read-only virtio-blk disk's does.
//
// A request that is wrong (a buffer outside RAM, an unknown type) fails alone with a non-zero
// `ret`; only a chain without a writable response in RAM, which leaves no way to answer, breaks
// the device.
#pragma once

#include <linux/virtio_pmem.h>

#include <cstdint>
#include <memory>

#include "microvm/guest_memory.h"
#include "microvm/pmem_region.h"
#include "microvm/virtio_device.h"

namespace hutch::microvm {

class VirtioPmem final : public VirtioDevice {
public:
    // `region` is mapped into the guest at `guest_address` (Vm::map_memory); `memory` is RAM,
    // where the queue's buffers are. Neither is owned: both outlive the VM, and so the device.
    VirtioPmem(const PmemRegion& region, uint64_t guest_address, const GuestMemory& memory);

    uint32_t device_id() const override;
    uint64_t features() const override { return 0; }
    std::span<const uint8_t> config() const override;
    uint16_t queue_count() const override { return 1; }
    ErrorOr<bool> process(uint16_t index, Virtqueue& queue) override;

    const PmemRegion& region() const { return region_; }
    uint64_t guest_address() const { return config_.start; }

private:
    ErrorOr<uint32_t> handle(const DescriptorChain& chain);
    uint32_t flush();

    const PmemRegion& region_;
    const GuestMemory& memory_;
    virtio_pmem_config config_ = {};
};

}  // namespace hutch::microvm
