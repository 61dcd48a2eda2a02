// What a virtio device (virtio-blk, later net and vsock) gives its transport (virtio_mmio.h):
// its type, its feature bits, its configuration space, and the handling of what the driver puts
// in its queues. The transport owns the registers, the negotiation and the interrupts.
//
// Most devices work only when the driver notifies. One with host input (virtio-console) also has
// work of its own, on a thread of its own: it asks the transport to serve a queue (kick), which
// runs process() under the transport's lock as a notify does, so the device's state needs no lock
// of its own and the interrupt follows the used ring as it does for a notify.
#pragma once

#include <cstdint>
#include <span>

#include "base/error.h"
#include "microvm/virtqueue.h"

namespace hutch::microvm {

class VirtioTransport {
public:
    virtual ~VirtioTransport() = default;
    // Serves queue `index` as a notify from the driver would: process(), then the interrupt.
    // Thread-safe; nothing happens while the queue is not live (driver not ready, device stopped).
    // Never from inside process(), which holds the lock it takes.
    virtual void kick(uint16_t index) = 0;
};

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
    // The driver reset the device, or broke a queue and so stopped it: whatever the device holds
    // of the old queues goes. Under the transport's lock, as process() is.
    virtual void reset() {}
    // For a device with work of its own: starts it, once its transport exists. The device stops
    // it when destroyed, which must happen before the transport is.
    virtual ErrorOr<void> start(VirtioTransport&) { return {}; }
};

}  // namespace hutch::microvm
