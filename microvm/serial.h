// A 16550A UART at COM1's ports (0x3f8-0x3ff): enough of one for a guest to print, through its
// early console (earlyprintk=serial, a freestanding test guest) or Linux's 8250 driver, which
// probes the scratch register, the FIFO type and the loopback mode before it trusts a port, and
// to read host input (serial_input.h feeds it). What the guest transmits goes to a host fd, a
// line at a time; transmitting takes no time, so the transmitter is always empty.
//
// The receive FIFO holds 16 bytes with the FIFOs enabled (FCR bit 0), 1 without, as the chip's.
// Host input is taken only into that room: input waits on the host (back-pressure), never in a
// buffer of the VMM's. Interrupts follow the datasheet's priorities: receiver line status (an
// overrun, only possible in loopback), received data available (the trigger level reached) or
// character timeout (less than that waiting: without baud timing, at once), then transmitter
// holding register empty. Modem status interrupts are never raised: the lines never change.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>

#include "microvm/device_bus.h"

namespace hutch::microvm {

constexpr uint16_t kSerialPort = 0x3f8;
constexpr uint16_t kSerialPortCount = 8;
constexpr uint32_t kSerialGsi = 4;  // COM1's ISA IRQ
constexpr size_t kSerialFifoSize = 16;

class Serial final : public Device {
public:
    // Both are called with the UART's lock held, from whichever thread changed its state: they
    // must not call back into the UART.
    struct Hooks {
        // The UART's interrupt output (INTR), called only when it changes. It is up while the
        // IIR reports a cause, as the chip's pin is; on the PC's edge-triggered ISA IRQ 4 the
        // rising edge is the interrupt, and a driver that reads IIR until "none" (Linux's 8250
        // does) lowers it before it returns, so the next cause is a new edge.
        std::function<void(bool level)> interrupt;
        // Room came in the receive FIFO after input_room() found none.
        std::function<void()> wants_input;
    };

    // `output_fd` is not owned; -1 drops the output.
    explicit Serial(int output_fd, Hooks hooks = {}) : output_fd_(output_fd), hooks_(std::move(hooks)) {}
    ~Serial() override { flush(); }

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    // Writes out what is buffered: at the end of the VM, for a last line without a newline.
    void flush();

    // How many bytes of host input the receive FIFO can take now. None (full, or in loopback,
    // where the chip's input is cut off): wants_input is called once there is room.
    size_t input_room();
    // Host input, at most input_room() bytes (more are dropped): the guest reads them from RBR.
    void receive(std::span<const uint8_t> bytes);

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    void write_fifo_control(uint8_t value);
    void transmit(uint8_t byte);
    uint8_t read_receive_buffer();
    void push_received(uint8_t byte);
    size_t fifo_capacity() const { return fifo_enabled_ ? kSerialFifoSize : 1; }
    size_t room_locked() const;
    uint8_t pending_interrupt() const;
    uint8_t read_interrupt_id();
    void update_interrupt();
    void room_made();
    void flush_locked();

    std::mutex mutex_;
    int output_fd_;
    Hooks hooks_;
    std::string pending_;  // transmitted, not yet written to output_fd_
    uint8_t interrupt_enable_ = 0;
    uint8_t line_control_ = 0x03;  // 8 data bits, no parity, one stop bit
    uint8_t modem_control_ = 0;
    uint8_t scratch_ = 0;
    uint8_t divisor_low_ = 0x0c;  // 9600 baud
    uint8_t divisor_high_ = 0;
    bool fifo_enabled_ = false;
    size_t trigger_level_ = 1;  // received bytes that raise "received data available"
    // The receive FIFO, a ring: host input, or what the guest transmitted in loopback.
    uint8_t fifo_[kSerialFifoSize] = {};
    size_t fifo_start_ = 0, fifo_count_ = 0;
    bool overrun_ = false;             // a looped-back byte found the FIFO full (LSR bit 1)
    bool transmit_interrupt_ = false;  // THR empty, not yet reported by an IIR read
    bool interrupt_level_ = false;     // what hooks_.interrupt was last told
    bool waiting_for_room_ = false;    // input_room() answered 0 since the last wants_input
};

}  // namespace hutch::microvm
