#include "microvm/vcpu_threads.h"

#include <pthread.h>
#include <signal.h>

#include <mutex>
#include <system_error>

namespace hutch::microvm {

namespace {

int kick_signal() { return SIGRTMIN; }

void ignore_kick(int) {}

// Once per process: a handler, so that the signal interrupts KVM_RUN instead of killing hutch.
// No SA_RESTART: the interrupted ioctl must return EINTR to the vCPU loop.
void install_kick_handler() {
    static std::once_flag installed;
    std::call_once(installed, [] {
        struct sigaction action = {};
        action.sa_handler = ignore_kick;
        sigemptyset(&action.sa_mask);
        ::sigaction(kick_signal(), &action, nullptr);
    });
}

}  // namespace

ErrorOr<std::unique_ptr<VcpuThreads>> VcpuThreads::start(std::vector<Vcpu>& vcpus, const DeviceBus& io,
                                                         const DeviceBus& mmio,
                                                         std::function<void(Error)> on_failure) {
    install_kick_handler();
    std::unique_ptr<VcpuThreads> threads(new VcpuThreads(vcpus));
    threads->on_failure_ = std::move(on_failure);
    for (auto& vcpu : vcpus) {
        try {
            threads->threads_.emplace_back(
                [raw = threads.get(), &vcpu, &io, &mmio] { raw->run(vcpu, io, mmio); });
        } catch (const std::system_error& e) {
            return fail("vCPU " + std::to_string(vcpu.index()) + ": start its thread: " + e.what());
        }
    }
    return threads;
}

void VcpuThreads::run(Vcpu& vcpu, const DeviceBus& io, const DeviceBus& mmio) const {
    // The thread inherits its creator's signal mask; the kick must get through.
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, kick_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
    auto result = vcpu.run(io, mmio, stop_);
    if (!result) on_failure_(result.error());
}

void VcpuThreads::stop() {
    stop_.store(true);
    for (auto& vcpu : vcpus_) vcpu.request_exit();
    for (auto& thread : threads_) ::pthread_kill(thread.native_handle(), kick_signal());
}

VcpuThreads::~VcpuThreads() {
    stop();
    for (auto& thread : threads_) thread.join();
}

}  // namespace hutch::microvm
