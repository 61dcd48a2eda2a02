#include "microvm/virtqueue.h"

#include <atomic>
#include <bit>
#include <cstring>
#include <string>

#include "microvm/hex.h"

namespace hutch::microvm {

namespace {

// From the spec, not <linux/virtio_ring.h>, whose inline vring_init() is not valid C++.
struct RingDescriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct UsedElement {
    uint32_t id;
    uint32_t len;
};
constexpr uint16_t kDescriptorNext = 1;
constexpr uint16_t kDescriptorWrite = 2;
constexpr uint16_t kDescriptorIndirect = 4;
constexpr uint16_t kAvailableNoInterrupt = 1;

// The rings' layouts: 16-byte descriptors; the available ring's flags, index and
// `size` 16-bit entries; the used ring's flags, index and `size` 8-byte elements. Neither event
// index field is there: VIRTIO_RING_F_EVENT_IDX is not offered.
constexpr uint64_t kDescriptorSize = sizeof(RingDescriptor);
constexpr uint64_t kRingIndexOffset = 2;
constexpr uint64_t kRingEntriesOffset = 4;
constexpr uint64_t kUsedElementSize = sizeof(UsedElement);

// A 16-bit field the guest may write concurrently: loaded once, atomically.
uint16_t load16(const uint8_t* at) {
    return std::atomic_ref(*reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(at)))
        .load(std::memory_order_acquire);
}

// The alignments and sizes of section 2.7 (split virtqueues).
ErrorOr<uint8_t*> ring(const GuestMemory& memory, uint64_t address, uint64_t length, uint64_t alignment,
                       const char* what) {
    if (address % alignment != 0)
        return fail(std::string(what) + " at " + hex(address) + " is not " + std::to_string(alignment) +
                    "-byte aligned");
    return TRY(memory.range(address, length, what)).data();
}

}  // namespace

ErrorOr<Virtqueue> Virtqueue::create(const GuestMemory& memory, const QueueAddresses& addresses) {
    uint16_t size = addresses.size;
    if (size == 0 || size > kMaxQueueSize || !std::has_single_bit(size))
        return fail("queue size " + std::to_string(size) + " is not a power of two up to " +
                    std::to_string(kMaxQueueSize));
    auto* descriptors =
        TRY(ring(memory, addresses.descriptors, kDescriptorSize * size, 16, "descriptor table"));
    auto* driver = TRY(ring(memory, addresses.driver, kRingEntriesOffset + 2 * size, 2, "available ring"));
    auto* device =
        TRY(ring(memory, addresses.device, kRingEntriesOffset + kUsedElementSize * size, 4, "used ring"));
    return Virtqueue(size, descriptors, driver, device);
}

ErrorOr<std::optional<DescriptorChain>> Virtqueue::pop() {
    uint16_t available = load16(driver_ + kRingIndexOffset);
    uint16_t pending = static_cast<uint16_t>(available - next_available_);
    if (pending == 0) return std::nullopt;
    // The driver can have at most `size` chains out at once; more means its index is garbage.
    if (pending > size_)
        return fail("the available ring's index jumped " + std::to_string(pending) + " entries ahead of a " +
                    std::to_string(size_) + "-entry queue");
    uint16_t head = load16(driver_ + kRingEntriesOffset + 2 * (next_available_ % size_));
    ++next_available_;
    return TRY(walk(head));
}

ErrorOr<DescriptorChain> Virtqueue::walk(uint16_t head) const {
    DescriptorChain chain{head, {}};
    uint16_t index = head;
    // A chain holds each descriptor at most once, so `size` steps bound it: a longer one loops.
    for (uint16_t steps = 0; steps < size_; ++steps) {
        if (index >= size_)
            return fail("descriptor index " + std::to_string(index) + " is outside the " +
                        std::to_string(size_) + "-entry table");
        RingDescriptor descriptor;
        std::memcpy(&descriptor, descriptors_ + kDescriptorSize * index, sizeof descriptor);
        // Indirect descriptors are not offered (VIRTIO_RING_F_INDIRECT_DESC), so a driver may not use them.
        if (descriptor.flags & kDescriptorIndirect)
            return fail("descriptor " + std::to_string(index) + " is indirect, which was not negotiated");
        chain.descriptors.push_back(
            {descriptor.addr, descriptor.len, (descriptor.flags & kDescriptorWrite) != 0});
        if (!(descriptor.flags & kDescriptorNext)) return chain;
        index = descriptor.next;
    }
    return fail("the chain at descriptor " + std::to_string(head) + " is longer than the queue: it loops");
}

void Virtqueue::add_used(uint16_t head, uint32_t written) {
    UsedElement element = {head, written};
    std::memcpy(device_ + kRingEntriesOffset + kUsedElementSize * (next_used_ % size_), &element,
                sizeof element);
    ++next_used_;
    // The element must be visible before the index that publishes it.
    std::atomic_ref(*reinterpret_cast<uint16_t*>(device_ + kRingIndexOffset))
        .store(next_used_, std::memory_order_release);
}

bool Virtqueue::interrupt_suppressed() const { return load16(driver_) & kAvailableNoInterrupt; }

ErrorOr<bool> Virtqueue::serve_available(
    const std::function<ErrorOr<uint32_t>(const DescriptorChain&)>& handle) {
    bool used = false;
    for (uint16_t i = 0; i < kMaxQueueSize; ++i) {
        auto chain = TRY(pop());
        if (!chain) break;
        add_used(chain->head, TRY(handle(*chain)));
        used = true;
    }
    return used;
}

}  // namespace hutch::microvm
