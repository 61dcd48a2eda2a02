// A split virtqueue (virtio 1.x, section 2.7) in guest memory: the descriptor table, the
// driver's available ring and the device's used ring, at addresses the driver chose. Everything
// in them is the guest's to write at any moment, so every index read from them is checked
// against the queue's size, a chain is walked at most `size` steps (a loop ends there), and the
// rings themselves were checked to lie in RAM when the queue was made ready. A descriptor's
// buffer is not checked here: the device that uses it fails that one request when it is not RAM.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/error.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

// The largest queue the VMM offers (QueueNumMax): Firecracker's and QEMU's default too.
constexpr uint16_t kMaxQueueSize = 256;

struct QueueAddresses {
    uint16_t size = 0;  // a power of two, 1 to kMaxQueueSize
    uint64_t descriptors = 0;
    uint64_t driver = 0;  // the available ring
    uint64_t device = 0;  // the used ring
};

struct Descriptor {
    uint64_t address;
    uint32_t length;
    bool device_writable;
};

struct DescriptorChain {
    uint16_t head;  // what goes back in the used ring
    std::vector<Descriptor> descriptors;
};

class Virtqueue {
public:
    // Checks the sizes and the rings' alignment and extent; the device is unusable (it needs a
    // reset) when they are wrong.
    static ErrorOr<Virtqueue> create(const GuestMemory& memory, const QueueAddresses& addresses);

    // The next chain the driver made available, walked and checked; none when the ring is empty.
    // An error means the driver broke the ring's rules: the device must stop using the queue.
    ErrorOr<std::optional<DescriptorChain>> pop();
    // Returns chain `head` to the driver with `written` bytes written into its buffers.
    void add_used(uint16_t head, uint32_t written);
    // Whether the driver asked for no interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT), as a polling one does.
    bool interrupt_suppressed() const;
    // Hands every chain available now to handle, which returns the bytes it wrote, and returns it
    // used; at most a queue's worth, so that a driver that keeps adding while the device works
    // cannot hold the vCPU thread here for ever. True when any chain was used.
    ErrorOr<bool> serve_available(const std::function<ErrorOr<uint32_t>(const DescriptorChain&)>& handle);

private:
    Virtqueue(uint16_t size, uint8_t* descriptors, uint8_t* driver, uint8_t* device)
        : size_(size), descriptors_(descriptors), driver_(driver), device_(device) {}
    ErrorOr<DescriptorChain> walk(uint16_t head) const;

    uint16_t size_;
    // Host addresses of the rings in guest RAM, checked by create(); RAM never moves.
    uint8_t* descriptors_;
    uint8_t* driver_;
    uint8_t* device_;
    uint16_t next_available_ = 0;  // the driver's ring index the device reads next
    uint16_t next_used_ = 0;
};

}  // namespace hutch::microvm
