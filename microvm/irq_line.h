// An interrupt line of the in-kernel IOAPIC (and PIC) that a device raises and lowers from
// userspace with KVM_IRQ_LINE. Level semantics: the line stays up while the device has something
// for the driver, which suits both an edge-triggered pin (one rising edge) and a level one.
#pragma once

#include <cstdint>

#include "base/error.h"

namespace hutch::microvm {

class IrqLine {
public:
    // `vm_fd` (not owned) must outlive the line; the VM needs its in-kernel irqchip.
    IrqLine(int vm_fd, uint32_t gsi) : vm_fd_(vm_fd), gsi_(gsi) {}
    uint32_t gsi() const { return gsi_; }
    ErrorOr<void> set(bool level) const;

private:
    int vm_fd_;
    uint32_t gsi_;
};

}  // namespace hutch::microvm
