// The virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2.2): a page of 32-bit
// registers on the MMIO bus through which a driver finds a virtio device, negotiates features,
// places its queues and notifies; the device's configuration space follows at 0x100. Interrupts
// go through an IOAPIC line (irq_line.h).
//
// Linux finds such a device on its command line, which has no bus to probe: the VMM appends
// `virtio_mmio.device=<size>@<address>:<irq>` (mmio_cmdline) for each.
//
// The driver is the guest, and hostile: a register write out of order is ignored, and a queue
// the driver breaks (rings outside RAM, a bad descriptor index, a loop) stops the device, which
// then shows DEVICE_NEEDS_RESET and raises a configuration interrupt until the driver resets it.
// A notify is handled on the vCPU thread that wrote it, under the transport's lock; a device's
// own thread kicks a queue (virtio_device.h) under the same lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "microvm/device_bus.h"
#include "microvm/guest_memory.h"
#include "microvm/irq_line.h"
#include "microvm/virtio_device.h"
#include "microvm/virtqueue.h"

namespace hutch::microvm {

constexpr uint64_t kVirtioMmioSize = 0x1000;

// "virtio_mmio.device=4K@0xd0000000:5": how Linux's virtio_mmio driver learns of a device.
std::string virtio_mmio_cmdline(uint64_t address, uint32_t gsi);

class VirtioMmio final : public Device, public VirtioTransport {
public:
    // `device`, `memory` and `irq` are not owned and must outlive the transport.
    VirtioMmio(VirtioDevice& device, const GuestMemory& memory, IrqLine irq);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    void kick(uint16_t index) override;

    // Why the device stopped (shows DEVICE_NEEDS_RESET); empty while it works.
    std::string broken_reason() const;

private:
    struct Queue {
        QueueAddresses addresses;
        bool ready = false;
        std::optional<Virtqueue> ring;  // while ready
    };

    uint32_t read_register(uint64_t offset) const;
    void write_register(uint64_t offset, uint32_t value);
    void write_status(uint32_t value);
    void set_queue_ready(bool ready);
    void serve(uint32_t index);
    void reset();
    void mark_broken(const std::string& why);
    void raise(uint32_t reason);
    void update_irq();
    uint64_t offered_features() const;
    Queue* selected_queue();
    const Queue* selected_queue() const;

    VirtioDevice& device_;
    const GuestMemory& memory_;
    IrqLine irq_;

    mutable std::mutex mutex_;
    uint32_t device_features_select_ = 0;
    uint32_t driver_features_select_ = 0;
    uint64_t driver_features_ = 0;
    uint32_t queue_select_ = 0;
    std::vector<Queue> queues_;
    uint32_t interrupt_status_ = 0;
    uint32_t status_ = 0;
    bool irq_raised_ = false;
    std::string broken_;
};

}  // namespace hutch::microvm
