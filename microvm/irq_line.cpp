#include "microvm/irq_line.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <string>

namespace hutch::microvm {

ErrorOr<void> IrqLine::set(bool level) const {
    kvm_irq_level line = {};
    line.irq = gsi_;
    line.level = level ? 1 : 0;
    TRY_SYS(::ioctl(vm_fd_, KVM_IRQ_LINE, &line), "KVM_IRQ_LINE " + std::to_string(gsi_));
    return {};
}

}  // namespace hutch::microvm
