// One vCPU: its KVM fd, the kvm_run structure shared with the kernel, the CPUID and MSRs it
// shows the guest, and the loop that runs it and hands its port and MMIO accesses to the
// device buses. The loop runs on a thread of its own (vcpu_threads.h).
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/device_bus.h"
#include "microvm/vm.h"

namespace hutch::microvm {

class Vcpu {
public:
    // vCPU `index` of `count`; its APIC id is its index, and vCPU 0 is the boot processor.
    static ErrorOr<Vcpu> create(const Vm& vm, uint32_t index, uint32_t count);

    Vcpu(Vcpu&& other) noexcept;
    Vcpu& operator=(Vcpu&&) = delete;
    Vcpu(const Vcpu&) = delete;
    ~Vcpu();

    int fd() const { return fd_.get(); }
    uint32_t index() const { return index_; }

    // Runs the guest until `stop` is set (and the vCPU kicked), or a failure: the guest shut
    // down (a triple fault), KVM could not enter or emulate, or the exit was one the VMM does
    // not handle.
    ErrorOr<void> run(const DeviceBus& io, const DeviceBus& mmio, const std::atomic<bool>& stop);
    // Makes the next or current KVM_RUN return at once. The running thread must then be
    // signalled to leave a KVM_RUN already in progress (vcpu_threads.cpp).
    void request_exit();

private:
    Vcpu(UniqueFd fd, kvm_run* run, size_t run_size, uint32_t index)
        : fd_(std::move(fd)), run_(run), run_size_(run_size), index_(index) {}
    void handle_io() const;
    void handle_mmio() const;
    ErrorOr<void> set_cpuid(const Vm& vm, uint32_t count) const;
    ErrorOr<void> set_msrs() const;
    std::string name() const { return "vCPU " + std::to_string(index_); }

    UniqueFd fd_;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
    uint32_t index_ = 0;
    const DeviceBus* io_ = nullptr;
    const DeviceBus* mmio_ = nullptr;
};

}  // namespace hutch::microvm
