// What a virtio device (virtio-blk, later net and vsock) gives its transport (virtio_mmio.h):
// its type, its feature bits, its configuration space, and the handling of what the driver puts
// in its queues. The transport owns the registers, the negotiation and the interrupts.
#pragma once

#include <cstdint>
#include <span>

#include "base/error.h"
#include "microvm/virtqueue.h"

namespace hutch::microvm {

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual uint32_t device_id() const = 0;  // VIRTIO_ID_* (virtio_ids.h)
    // The device type's feature bits; the transport adds VIRTIO_F_VERSION_1.
    virtual uint64_t features() const = 0;
    // The configuration space, read-only for the driver.
    virtual std::span<const uint8_t> config() const = 0;
    virtual uint16_t queue_count() const = 0;
    // Handles every chain available in queue `index`; returns whether any went back to the driver
    // (then the transport interrupts it). An error means the driver broke the queue's rules and the
    // device must stop (DEVICE_NEEDS_RESET); a bad request is the device's to fail by itself.
    virtual ErrorOr<bool> process(uint16_t index, Virtqueue& queue) = 0;
};

}  // namespace hutch::microvm
