// One KVM virtual machine: its guest RAM in slot 0 at physical address 0, the in-kernel
// interrupt controllers (PIC, IOAPIC, a LAPIC per vCPU) and the in-kernel PIT, which Linux uses to
// calibrate its clocks. With those in the kernel a halted vCPU sleeps there until an interrupt,
// and hutch handles only its own devices' port and MMIO accesses.
#pragma once

#include "base/error.h"
#include "base/fd.h"
#include "microvm/guest_memory.h"
#include "microvm/kvm.h"

namespace hutch::microvm {

class Vm {
public:
    static ErrorOr<Vm> create(Kvm kvm, GuestMemory memory);

    const Kvm& kvm() const { return kvm_; }
    int fd() const { return fd_.get(); }
    const GuestMemory& memory() const { return memory_; }
    // Maps `size` bytes at `host` into the guest at `guest_address` as memory slot `slot` (slot 0
    // is RAM). A read-only slot (KVM_MEM_READONLY) takes the guest's reads from the pages and turns
    // its writes into MMIO exits, which the VMM's bus drops; a host whose KVM cannot do that
    // fails here. The mapping must outlive the VM.
    ErrorOr<void> map_memory(uint32_t slot, uint64_t guest_address, uint64_t size, const uint8_t* host,
                             bool read_only) const;

private:
    Vm(Kvm kvm, UniqueFd fd, GuestMemory memory)
        : kvm_(std::move(kvm)), memory_(std::move(memory)), fd_(std::move(fd)) {}
    Kvm kvm_;
    GuestMemory memory_;
    // After memory_: members are destroyed in reverse order, so the VM (and its memory slot) is
    // gone before its RAM is unmapped.
    UniqueFd fd_;
};

}  // namespace hutch::microvm
