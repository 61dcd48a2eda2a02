#include "microvm/device_bus.h"

#include <algorithm>

#include "microvm/hex.h"

namespace hutch::microvm {

ErrorOr<void> DeviceBus::add(uint64_t base, uint64_t length, Device& device) {
    if (length == 0 || base + length < base)
        return fail(name_ + ": an empty or wrapping range at " + hex(base));
    auto next = ranges_.lower_bound(base);
    bool overlaps_next = next != ranges_.end() && next->first < base + length;
    bool overlaps_previous =
        next != ranges_.begin() && std::prev(next)->first + std::prev(next)->second.length > base;
    if (overlaps_next || overlaps_previous) return fail(name_ + ": a device is already at " + hex(base));
    ranges_.emplace(base, Range{length, &device});
    return {};
}

std::pair<Device*, uint64_t> DeviceBus::find(uint64_t address, uint64_t size) const {
    auto it = ranges_.upper_bound(address);
    if (it == ranges_.begin()) return {nullptr, 0};
    --it;
    uint64_t offset = address - it->first;
    if (offset >= it->second.length || size > it->second.length - offset) return {nullptr, 0};
    return {it->second.device, offset};
}

bool DeviceBus::read(uint64_t address, std::span<uint8_t> data) const {
    auto [device, offset] = find(address, data.size());
    if (!device) {
        std::ranges::fill(data, 0xff);
        return false;
    }
    device->read(offset, data);
    return true;
}

bool DeviceBus::write(uint64_t address, std::span<const uint8_t> data) const {
    auto [device, offset] = find(address, data.size());
    if (!device) return false;
    device->write(offset, data);
    return true;
}

}  // namespace hutch::microvm
