// How a guest ends its VM with an exit code: it writes the code to I/O port 0x501, and the VMM
// stops every vCPU and returns that code (the low byte of what was written, 0 to 255) from
// run_vm.
//
// The port is where QEMU's isa-debug-exit device sits by default (iobase 0x501, iosize 2), so
// that one test guest runs under both; QEMU exits with (code << 1) | 1 instead, its way to tell
// a guest's exit from its own.
#pragma once

#include <cstdint>
#include <functional>

#include "microvm/device_bus.h"

namespace hutch::microvm {

constexpr uint16_t kExitPort = 0x501;
constexpr uint16_t kExitPortCount = 2;

class ExitDevice final : public Device {
public:
    explicit ExitDevice(std::function<void(int)> on_exit) : on_exit_(std::move(on_exit)) {}

    void read(uint64_t, std::span<uint8_t> data) override {
        for (auto& byte : data) byte = 0xff;
    }
    // Any write ends the VM: byte writes are what a guest makes, but a word one counts too.
    void write(uint64_t, std::span<const uint8_t> data) override {
        if (!data.empty()) on_exit_(data[0]);
    }

private:
    std::function<void(int)> on_exit_;
};

}  // namespace hutch::microvm
