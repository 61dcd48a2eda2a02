#include "microvm/serial.h"

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
constexpr uint8_t kLineStatusTransmitterEmpty = 0x60;  // holding register and shift register both empty
constexpr uint8_t kInterruptIdNone = 0x01;
constexpr uint8_t kInterruptIdFifos = 0xc0;  // "FIFOs enabled": what makes Linux see a 16550A
// Modem status lines when the port is not in loopback: carrier, data set ready and clear to send,
// as a terminal that is always there.
constexpr uint8_t kModemStatusConnected = 0xb0;

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
        case kData:
            if (dlab) return divisor_low_;
            received_ = false;
            return receive_;
        case kInterruptEnable: return dlab ? divisor_high_ : interrupt_enable_;
        case kInterruptId: return kInterruptIdNone | (fifo_enabled_ ? kInterruptIdFifos : 0);
        case kLineControl: return line_control_;
        case kModemControl: return modem_control_;
        case kLineStatus: return kLineStatusTransmitterEmpty | (received_ ? kLineStatusDataReady : 0);
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
            if (dlab)
                divisor_high_ = value;
            else
                interrupt_enable_ = value & 0x0f;
            break;
        case kInterruptId: fifo_enabled_ = value & 0x01; break;
        case kLineControl: line_control_ = value; break;
        case kModemControl: modem_control_ = value & 0x1f; break;
        case kScratch: scratch_ = value; break;
        default: break;  // the status registers are read-only
    }
}

void Serial::transmit(uint8_t byte) {
    if (modem_control_ & kModemControlLoop) {
        receive_ = byte;
        received_ = true;
        return;
    }
    if (output_fd_ < 0) return;
    pending_.push_back(static_cast<char>(byte));
    if (byte == '\n' || pending_.size() >= kFlushAt) flush_locked();
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
