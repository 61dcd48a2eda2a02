// The devices hutch emulates, by address: one bus for port I/O, one for MMIO. A vCPU's exit for
// an access goes to the device whose range holds the address, with the offset into that range.
// The buses are filled before the vCPUs start and only read after, so lookups need no lock;
// each device guards its own state, since several vCPUs may reach it at once.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "base/error.h"

namespace hutch::microvm {

class Device {
public:
    virtual ~Device() = default;
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class DeviceBus {
public:
    explicit DeviceBus(std::string name) : name_(std::move(name)) {}

    // `device` is not owned: it must outlive the bus's use. Overlapping ranges are refused.
    ErrorOr<void> add(uint64_t base, uint64_t length, Device& device);
    // An access no device claims reads as all ones, as on a PC bus where nothing answers, and
    // its writes are dropped; the call returns false for it.
    bool read(uint64_t address, std::span<uint8_t> data) const;
    bool write(uint64_t address, std::span<const uint8_t> data) const;

private:
    struct Range {
        uint64_t length;
        Device* device;
    };
    // The device and offset for an access of `size` bytes at `address`; none when no range
    // holds all of it.
    std::pair<Device*, uint64_t> find(uint64_t address, uint64_t size) const;

    std::string name_;
    std::map<uint64_t, Range> ranges_;  // by base address
};

}  // namespace hutch::microvm
