#include "microvm/virtio_mmio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <cstring>

#include "base/log.h"
#include "microvm/hex.h"

namespace hutch::microvm {

namespace {

constexpr uint32_t kMagic = 0x74726976;  // "virt"
constexpr uint32_t kVersion = 2;
constexpr uint32_t kVendor = 0x48555443;  // "HUTC": any value; Linux does not look at it
constexpr uint64_t kVersion1 = 1ull << VIRTIO_F_VERSION_1;

uint32_t low(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t high(uint64_t value) { return static_cast<uint32_t>(value >> 32); }
void set_low(uint64_t& field, uint32_t value) { field = (field & ~0xffffffffull) | value; }
void set_high(uint64_t& field, uint32_t value) { field = (field & 0xffffffffull) | (uint64_t{value} << 32); }

}  // namespace

std::string virtio_mmio_cmdline(uint64_t address, uint32_t gsi) {
    return "virtio_mmio.device=" + std::to_string(kVirtioMmioSize >> 10) + "K@" + hex(address) + ":" +
           std::to_string(gsi);
}

VirtioMmio::VirtioMmio(VirtioDevice& device, const GuestMemory& memory, IrqLine irq)
    : device_(device), memory_(memory), irq_(irq), queues_(device.queue_count()) {}

// Registers are 32 bits wide and read whole (the spec's rule for a driver); the configuration
// space is read at any width. Anything else reads as zero.
void VirtioMmio::read(uint64_t offset, std::span<uint8_t> data) {
    std::memset(data.data(), 0, data.size());
    std::lock_guard lock(mutex_);
    if (offset >= VIRTIO_MMIO_CONFIG) {
        auto config = device_.config();
        uint64_t at = offset - VIRTIO_MMIO_CONFIG;
        for (size_t i = 0; i < data.size() && at + i < config.size(); ++i) data[i] = config[at + i];
        return;
    }
    if (data.size() != 4 || offset % 4 != 0) return;
    uint32_t value = read_register(offset);
    std::memcpy(data.data(), &value, sizeof value);
}

// The configuration space of the devices here is read-only; register writes are 32 bits.
void VirtioMmio::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= VIRTIO_MMIO_CONFIG || data.size() != 4 || offset % 4 != 0) return;
    uint32_t value;
    std::memcpy(&value, data.data(), sizeof value);
    std::lock_guard lock(mutex_);
    write_register(offset, value);
}

std::string VirtioMmio::broken_reason() const {
    std::lock_guard lock(mutex_);
    return broken_;
}

uint64_t VirtioMmio::offered_features() const { return device_.features() | kVersion1; }

VirtioMmio::Queue* VirtioMmio::selected_queue() {
    return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}
const VirtioMmio::Queue* VirtioMmio::selected_queue() const {
    return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

uint32_t VirtioMmio::read_register(uint64_t offset) const {
    const Queue* queue = selected_queue();
    switch (offset) {
        case VIRTIO_MMIO_MAGIC_VALUE: return kMagic;
        case VIRTIO_MMIO_VERSION: return kVersion;
        case VIRTIO_MMIO_DEVICE_ID: return device_.device_id();
        case VIRTIO_MMIO_VENDOR_ID: return kVendor;
        case VIRTIO_MMIO_DEVICE_FEATURES:
            if (device_features_select_ > 1) return 0;
            return device_features_select_ == 0 ? low(offered_features()) : high(offered_features());
        case VIRTIO_MMIO_QUEUE_NUM_MAX: return queue ? kMaxQueueSize : 0;  // 0: no such queue
        case VIRTIO_MMIO_QUEUE_READY: return queue && queue->ready;
        case VIRTIO_MMIO_INTERRUPT_STATUS: return interrupt_status_;
        case VIRTIO_MMIO_STATUS: return status_;
        case VIRTIO_MMIO_QUEUE_DESC_LOW: return queue ? low(queue->addresses.descriptors) : 0;
        case VIRTIO_MMIO_QUEUE_DESC_HIGH: return queue ? high(queue->addresses.descriptors) : 0;
        case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return queue ? low(queue->addresses.driver) : 0;
        case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return queue ? high(queue->addresses.driver) : 0;
        case VIRTIO_MMIO_QUEUE_USED_LOW: return queue ? low(queue->addresses.device) : 0;
        case VIRTIO_MMIO_QUEUE_USED_HIGH: return queue ? high(queue->addresses.device) : 0;
        // No shared memory regions: their length reads as all ones.
        case VIRTIO_MMIO_SHM_LEN_LOW:
        case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff;
        case VIRTIO_MMIO_CONFIG_GENERATION: return 0;  // the configuration never changes
        default: return 0;
    }
}

void VirtioMmio::write_register(uint64_t offset, uint32_t value) {
    Queue* queue = selected_queue();
    // Queue addresses and sizes may change only while the queue is not live.
    Queue* settable = queue && !queue->ready ? queue : nullptr;
    bool negotiating = (status_ & VIRTIO_CONFIG_S_DRIVER) && !(status_ & VIRTIO_CONFIG_S_FEATURES_OK);
    switch (offset) {
        case VIRTIO_MMIO_DEVICE_FEATURES_SEL: device_features_select_ = value; break;
        case VIRTIO_MMIO_DRIVER_FEATURES:
            if (!negotiating) break;
            if (driver_features_select_ == 0) set_low(driver_features_, value);
            if (driver_features_select_ == 1) set_high(driver_features_, value);
            break;
        case VIRTIO_MMIO_DRIVER_FEATURES_SEL: driver_features_select_ = value; break;
        case VIRTIO_MMIO_QUEUE_SEL: queue_select_ = value; break;
        case VIRTIO_MMIO_QUEUE_NUM:
            if (settable) settable->addresses.size = static_cast<uint16_t>(value > 0xffff ? 0 : value);
            break;
        case VIRTIO_MMIO_QUEUE_READY: set_queue_ready(value == 1); break;
        case VIRTIO_MMIO_QUEUE_NOTIFY: serve(value); break;
        case VIRTIO_MMIO_INTERRUPT_ACK:
            interrupt_status_ &= ~value;
            update_irq();
            break;
        case VIRTIO_MMIO_STATUS: write_status(value); break;
        case VIRTIO_MMIO_QUEUE_DESC_LOW:
            if (settable) set_low(settable->addresses.descriptors, value);
            break;
        case VIRTIO_MMIO_QUEUE_DESC_HIGH:
            if (settable) set_high(settable->addresses.descriptors, value);
            break;
        case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
            if (settable) set_low(settable->addresses.driver, value);
            break;
        case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
            if (settable) set_high(settable->addresses.driver, value);
            break;
        case VIRTIO_MMIO_QUEUE_USED_LOW:
            if (settable) set_low(settable->addresses.device, value);
            break;
        case VIRTIO_MMIO_QUEUE_USED_HIGH:
            if (settable) set_high(settable->addresses.device, value);
            break;
        default: break;  // read-only or unknown registers
    }
}

// The status only grows until the driver writes 0, which resets the device. FEATURES_OK sticks
// only when the driver accepted nothing that was not offered, and VERSION_1: this transport has no
// legacy interface. DRIVER_OK needs FEATURES_OK first.
void VirtioMmio::write_status(uint32_t value) {
    if (value == 0) return reset();
    // Clearing bits other than by a reset is not the driver's to do: ignored.
    if (status_ & ~value & ~VIRTIO_CONFIG_S_NEEDS_RESET) return;
    uint32_t added = value & ~status_;
    if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
        bool acceptable = (driver_features_ & ~offered_features()) == 0 && (driver_features_ & kVersion1);
        if (!acceptable) value &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(value & VIRTIO_CONFIG_S_FEATURES_OK))
        value &= ~VIRTIO_CONFIG_S_DRIVER_OK;
    // NEEDS_RESET is the device's to set, not the driver's.
    status_ = (value & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (status_ & VIRTIO_CONFIG_S_NEEDS_RESET);
}

void VirtioMmio::set_queue_ready(bool ready) {
    Queue* queue = selected_queue();
    if (!queue) return;
    if (!ready) {
        queue->ready = false;
        queue->ring.reset();
        return;
    }
    if (queue->ready || !broken_.empty()) return;
    auto ring = Virtqueue::create(memory_, queue->addresses);
    if (!ring) return mark_broken("queue " + std::to_string(queue_select_) + ": " + ring.error().message);
    queue->ring = std::move(*ring);
    queue->ready = true;
}

void VirtioMmio::kick(uint16_t index) {
    std::lock_guard lock(mutex_);
    serve(index);
}

// A notify, or a kick: the device handles what is in the queue, and the driver hears of it.
void VirtioMmio::serve(uint32_t index) {
    if (!(status_ & VIRTIO_CONFIG_S_DRIVER_OK) || !broken_.empty()) return;
    if (index >= queues_.size() || !queues_[index].ready) return;
    auto& ring = *queues_[index].ring;
    auto used = device_.process(static_cast<uint16_t>(index), ring);
    if (!used) return mark_broken("queue " + std::to_string(index) + ": " + used.error().message);
    if (*used && !ring.interrupt_suppressed()) raise(VIRTIO_MMIO_INT_VRING);
}

void VirtioMmio::reset() {
    device_features_select_ = driver_features_select_ = queue_select_ = 0;
    driver_features_ = 0;
    for (auto& queue : queues_) queue = Queue{};
    interrupt_status_ = 0;
    status_ = 0;
    broken_.clear();
    device_.reset();
    update_irq();
}

// The driver broke a queue: the device stops until it is reset, and says so.
void VirtioMmio::mark_broken(const std::string& why) {
    broken_ = why;
    log::warn("virtio device " + std::to_string(device_.device_id()) + " needs a reset: " + why);
    status_ |= VIRTIO_CONFIG_S_NEEDS_RESET;
    device_.reset();
    if (status_ & VIRTIO_CONFIG_S_DRIVER_OK) raise(VIRTIO_MMIO_INT_CONFIG);
}

void VirtioMmio::raise(uint32_t reason) {
    interrupt_status_ |= reason;
    update_irq();
}

// The line follows the interrupt status. A failure of KVM_IRQ_LINE (the VM is going away) loses
// the interrupt, which the driver's next look at the used ring makes good.
void VirtioMmio::update_irq() {
    bool wanted = interrupt_status_ != 0;
    if (wanted == irq_raised_) return;
    if (auto result = irq_.set(wanted); !result) {
        log::warn("virtio device " + std::to_string(device_.device_id()) + ": " + result.error().message);
        return;
    }
    irq_raised_ = wanted;
}

}  // namespace hutch::microvm
