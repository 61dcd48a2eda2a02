#include "microvm/serial.h"

#include <algorithm>

#include "base/file.h"

namespace hutch::microvm {

namespace {

// Register offsets from the base port.
constexpr uint64_t kData = 0;             // receive buffer / transmit holding; divisor low with DLAB
constexpr uint64_t kInterruptEnable = 1;  // divisor high with DLAB
constexpr uint64_t kInterruptId = 2;      // read; FIFO control on write
constexpr uint64_t kLineControl = 3;
constexpr uint64_t kModemControl = 4;
constexpr uint64_t kLineStatus = 5;
constexpr uint64_t kModemStatus = 6;
constexpr uint64_t kScratch = 7;

constexpr uint8_t kLineControlDlab = 0x80;  // the first two registers are the baud divisor
constexpr uint8_t kModemControlLoop = 0x10;
constexpr uint8_t kLineStatusDataReady = 0x01;
constexpr uint8_t kLineStatusOverrun = 0x02;
constexpr uint8_t kLineStatusTransmitterEmpty = 0x60;  // holding register and shift register both empty
constexpr uint8_t kFifoControlEnable = 0x01;
constexpr uint8_t kFifoControlClearReceive = 0x02;
constexpr uint8_t kInterruptEnableReceived = 0x01;
constexpr uint8_t kInterruptEnableTransmitEmpty = 0x02;
constexpr uint8_t kInterruptEnableLineStatus = 0x04;
// IIR's bits 0-3, highest priority first.
constexpr uint8_t kInterruptIdLineStatus = 0x06;
constexpr uint8_t kInterruptIdReceived = 0x04;
constexpr uint8_t kInterruptIdTimeout = 0x0c;
constexpr uint8_t kInterruptIdTransmitEmpty = 0x02;
constexpr uint8_t kInterruptIdNone = 0x01;
constexpr uint8_t kInterruptIdFifos = 0xc0;  // "FIFOs enabled": what makes Linux see a 16550A
// Modem status lines when the port is not in loopback: carrier, data set ready and clear to send,
// as a terminal that is always there.
constexpr uint8_t kModemStatusConnected = 0xb0;
// FCR bits 6-7: how many received bytes raise "received data available".
constexpr size_t kTriggerLevels[] = {1, 4, 8, 14};

constexpr size_t kFlushAt = 4096;

// In loopback the modem control outputs come back as the status inputs: DTR->DSR, RTS->CTS,
// OUT1->RI, OUT2->DCD.
uint8_t looped_modem_status(uint8_t modem_control) {
    uint8_t status = 0;
    if (modem_control & 0x01) status |= 0x20;
    if (modem_control & 0x02) status |= 0x10;
    if (modem_control & 0x04) status |= 0x40;
    if (modem_control & 0x08) status |= 0x80;
    return status;
}

}  // namespace

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) data[i] = read_register(offset + i);
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) write_register(offset + i, data[i]);
}

uint8_t Serial::read_register(uint64_t offset) {
    bool dlab = line_control_ & kLineControlDlab;
    switch (offset) {
        case kData: return dlab ? divisor_low_ : read_receive_buffer();
        case kInterruptEnable: return dlab ? divisor_high_ : interrupt_enable_;
        case kInterruptId: return read_interrupt_id();
        case kLineControl: return line_control_;
        case kModemControl: return modem_control_;
        case kLineStatus: {
            uint8_t status = kLineStatusTransmitterEmpty | (fifo_count_ ? kLineStatusDataReady : 0) |
                             (overrun_ ? kLineStatusOverrun : 0);
            overrun_ = false;  // reading LSR clears the error, and its interrupt
            update_interrupt();
            return status;
        }
        case kModemStatus:
            return (modem_control_ & kModemControlLoop) ? looped_modem_status(modem_control_)
                                                        : kModemStatusConnected;
        case kScratch: return scratch_;
        default: return 0xff;
    }
}

void Serial::write_register(uint64_t offset, uint8_t value) {
    bool dlab = line_control_ & kLineControlDlab;
    switch (offset) {
        case kData:
            if (dlab)
                divisor_low_ = value;
            else
                transmit(value);
            break;
        case kInterruptEnable:
            if (dlab) {
                divisor_high_ = value;
                break;
            }
            // Enabling the THR-empty interrupt while the THR is empty (it always is) raises it at
            // once, as on the chip: Linux's 8250 driver checks that it does.
            if ((value & kInterruptEnableTransmitEmpty) &&
                !(interrupt_enable_ & kInterruptEnableTransmitEmpty))
                transmit_interrupt_ = true;
            interrupt_enable_ = value & 0x0f;
            update_interrupt();
            break;
        case kInterruptId: write_fifo_control(value); break;
        case kLineControl: line_control_ = value; break;
        case kModemControl: {
            bool was_loop = modem_control_ & kModemControlLoop;
            modem_control_ = value & 0x1f;
            if (was_loop && !(modem_control_ & kModemControlLoop)) room_made();  // host input again
            break;
        }
        case kScratch: scratch_ = value; break;
        default: break;  // the status registers are read-only
    }
}

// Turning the FIFOs on or off empties them, as does bit 1; the other bits count only with the
// FIFOs on.
void Serial::write_fifo_control(uint8_t value) {
    bool enable = value & kFifoControlEnable;
    bool clear = enable != fifo_enabled_ || (enable && (value & kFifoControlClearReceive));
    fifo_enabled_ = enable;
    if (enable) trigger_level_ = kTriggerLevels[value >> 6];
    if (clear) {
        fifo_start_ = fifo_count_ = 0;
        overrun_ = false;
    }
    update_interrupt();
    room_made();
}

void Serial::transmit(uint8_t byte) {
    // The byte leaves at once, so the THR is empty again: a new THR-empty interrupt.
    transmit_interrupt_ = true;
    if (modem_control_ & kModemControlLoop) {
        push_received(byte);
    } else if (output_fd_ >= 0) {
        pending_.push_back(static_cast<char>(byte));
        if (byte == '\n' || pending_.size() >= kFlushAt) flush_locked();
    }
    update_interrupt();
}

uint8_t Serial::read_receive_buffer() {
    if (fifo_count_ == 0) return 0;
    uint8_t byte = fifo_[fifo_start_];
    fifo_start_ = (fifo_start_ + 1) % kSerialFifoSize;
    --fifo_count_;
    update_interrupt();
    room_made();
    return byte;
}

// A byte that finds the FIFO full is lost, and says so in LSR, as an overrun on the chip.
void Serial::push_received(uint8_t byte) {
    if (fifo_count_ >= fifo_capacity()) {
        overrun_ = true;
        return;
    }
    fifo_[(fifo_start_ + fifo_count_) % kSerialFifoSize] = byte;
    ++fifo_count_;
}

size_t Serial::room_locked() const {
    if (modem_control_ & kModemControlLoop) return 0;
    return fifo_capacity() - std::min(fifo_count_, fifo_capacity());
}

size_t Serial::input_room() {
    std::lock_guard lock(mutex_);
    size_t room = room_locked();
    if (room == 0) waiting_for_room_ = true;
    return room;
}

void Serial::receive(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    size_t room = room_locked();
    for (size_t i = 0; i < std::min(room, bytes.size()); ++i) push_received(bytes[i]);
    update_interrupt();
}

void Serial::room_made() {
    if (!waiting_for_room_ || room_locked() == 0) return;
    waiting_for_room_ = false;
    if (hooks_.wants_input) hooks_.wants_input();
}

uint8_t Serial::pending_interrupt() const {
    if ((interrupt_enable_ & kInterruptEnableLineStatus) && overrun_) return kInterruptIdLineStatus;
    if ((interrupt_enable_ & kInterruptEnableReceived) && fifo_count_)
        return !fifo_enabled_ || fifo_count_ >= trigger_level_ ? kInterruptIdReceived : kInterruptIdTimeout;
    if ((interrupt_enable_ & kInterruptEnableTransmitEmpty) && transmit_interrupt_)
        return kInterruptIdTransmitEmpty;
    return kInterruptIdNone;
}

// Reading IIR while it reports THR empty clears that cause (the datasheet's reset for it).
uint8_t Serial::read_interrupt_id() {
    uint8_t id = pending_interrupt();
    if (id == kInterruptIdTransmitEmpty) {
        transmit_interrupt_ = false;
        update_interrupt();
    }
    return id | (fifo_enabled_ ? kInterruptIdFifos : 0);
}

void Serial::update_interrupt() {
    bool level = pending_interrupt() != kInterruptIdNone;
    if (level == interrupt_level_) return;
    interrupt_level_ = level;
    if (hooks_.interrupt) hooks_.interrupt(level);
}

void Serial::flush() {
    std::lock_guard lock(mutex_);
    flush_locked();
}

// A host fd that fails (a closed pipe) loses the guest's output, not the VM: the guest cannot
// be told, and a real UART's cable can be pulled too.
void Serial::flush_locked() {
    if (pending_.empty()) return;
    (void)write_all(output_fd_, pending_);
    pending_.clear();
}

}  // namespace hutch::microvm
