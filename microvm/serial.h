// A 16550A UART at COM1's ports (0x3f8-0x3ff): enough of one for a guest to print, through its
// early console (earlyprintk=serial, a freestanding test guest) or Linux's 8250 driver, which
// probes the scratch register, the FIFO type and the loopback mode before it trusts a port.
// What the guest transmits goes to a host fd, a line at a time.
//
// Not yet: input (the receive side reads as empty) and interrupts (IRQ 4 is never raised), so a
// guest must poll the line status register, as consoles do when they print.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "microvm/device_bus.h"

namespace hutch::microvm {

constexpr uint16_t kSerialPort = 0x3f8;
constexpr uint16_t kSerialPortCount = 8;

class Serial final : public Device {
public:
    // `output_fd` is not owned; -1 drops the output.
    explicit Serial(int output_fd) : output_fd_(output_fd) {}
    ~Serial() override { flush(); }

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    // Writes out what is buffered: at the end of the VM, for a last line without a newline.
    void flush();

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    void transmit(uint8_t byte);
    void flush_locked();

    std::mutex mutex_;
    int output_fd_;
    std::string pending_;  // transmitted, not yet written to output_fd_
    uint8_t interrupt_enable_ = 0;
    uint8_t line_control_ = 0x03;  // 8 data bits, no parity, one stop bit
    uint8_t modem_control_ = 0;
    uint8_t scratch_ = 0;
    uint8_t divisor_low_ = 0x0c;  // 9600 baud
    uint8_t divisor_high_ = 0;
    bool fifo_enabled_ = false;
    bool received_ = false;  // a byte looped back (loopback mode) waits in receive_
    uint8_t receive_ = 0;
};

}  // namespace hutch::microvm
