// A thread per vCPU, each running its vCPU's loop until the VM stops. Stopping sets a flag,
// marks every kvm_run for an immediate exit (so a thread about to enter KVM_RUN returns at once)
// and signals each thread with SIGRTMIN, whose empty handler makes a KVM_RUN in progress, or a
// vCPU asleep in the kernel on HLT or waiting for its start-up IPI, return EINTR.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/error.h"
#include "microvm/device_bus.h"
#include "microvm/vcpu.h"

namespace hutch::microvm {

class VcpuThreads {
public:
    // `on_failure` runs on the thread of a vCPU that failed; `vcpus` and the buses must outlive
    // the threads.
    static ErrorOr<std::unique_ptr<VcpuThreads>> start(std::vector<Vcpu>& vcpus, const DeviceBus& io,
                                                       const DeviceBus& mmio,
                                                       std::function<void(Error)> on_failure);
    VcpuThreads(const VcpuThreads&) = delete;
    VcpuThreads& operator=(const VcpuThreads&) = delete;
    // Stops and joins every thread.
    ~VcpuThreads();

    void stop();

private:
    explicit VcpuThreads(std::vector<Vcpu>& vcpus) : vcpus_(vcpus) {}
    void run(Vcpu& vcpu, const DeviceBus& io, const DeviceBus& mmio) const;

    std::vector<Vcpu>& vcpus_;
    std::function<void(Error)> on_failure_;
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

}  // namespace hutch::microvm
