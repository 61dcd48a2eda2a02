#include "microvm/vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "microvm/cpuid.h"
#include "microvm/hex.h"
#include "microvm/kvm_lists.h"

namespace hutch::microvm {

namespace {

constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint64_t kMiscEnableFastStrings = 0x1;
constexpr uint32_t kMsrMtrrDefaultType = 0x2ff;
constexpr uint64_t kMtrrEnabledWriteBack = (1u << 11) | 0x6;

}  // namespace

ErrorOr<Vcpu> Vcpu::create(const Vm& vm, uint32_t index, uint32_t count) {
    std::string name = "vCPU " + std::to_string(index);
    UniqueFd fd(TRY_SYS(::ioctl(vm.fd(), KVM_CREATE_VCPU, index), name + ": KVM_CREATE_VCPU"));
    size_t size = static_cast<size_t>(vm.kvm().vcpu_mmap_size());
    void* run = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (run == MAP_FAILED) return fail_errno(name + ": mmap of kvm_run");
    Vcpu vcpu(std::move(fd), static_cast<kvm_run*>(run), size, index);
    TRY_CTX(vcpu.set_cpuid(vm, count), name);
    TRY_CTX(vcpu.set_msrs(), name);
    return vcpu;
}

Vcpu::Vcpu(Vcpu&& other) noexcept
    : fd_(std::move(other.fd_)),
      run_(std::exchange(other.run_, nullptr)),
      run_size_(other.run_size_),
      index_(other.index_) {}

Vcpu::~Vcpu() {
    if (run_) ::munmap(run_, run_size_);
}

ErrorOr<void> Vcpu::set_cpuid(const Vm& vm, uint32_t count) const {
    auto entries = TRY(vm.kvm().supported_cpuid());
    adapt_cpuid(entries, index_, count);
    if (entries.size() > kMaxCpuidEntries) return fail("KVM_SET_CPUID2: more entries than KVM keeps");
    auto list = std::make_unique<CpuidList>();
    list->count = static_cast<uint32_t>(entries.size());
    std::ranges::copy(entries, list->entries);
    TRY_SYS(::ioctl(fd(), kKvmSetCpuid2, list.get()), "KVM_SET_CPUID2");
    return {};
}

// What firmware would have set before it jumped to a kernel: fast string operations on, and the
// MTRRs on with write-back as the default memory type (left off, every access is uncached).
ErrorOr<void> Vcpu::set_msrs() const {
    constexpr std::pair<uint32_t, uint64_t> kMsrs[] = {
        {kMsrMiscEnable, kMiscEnableFastStrings},
        {kMsrMtrrDefaultType, kMtrrEnabledWriteBack},
    };
    constexpr size_t kCount = std::size(kMsrs);
    MsrList<kCount> msrs;
    msrs.count = kCount;
    for (size_t i = 0; i < kCount; ++i) {
        msrs.entries[i].index = kMsrs[i].first;
        msrs.entries[i].data = kMsrs[i].second;
    }
    // KVM_SET_MSRS returns how many it set, stopping at the first it refuses.
    int set = TRY_SYS(::ioctl(fd(), kKvmSetMsrs, &msrs), "KVM_SET_MSRS");
    if (static_cast<size_t>(set) != kCount)
        return fail("KVM_SET_MSRS: KVM refused MSR " + hex(kMsrs[set].first));
    return {};
}

void Vcpu::request_exit() { std::atomic_ref(run_->immediate_exit).store(1); }

ErrorOr<void> Vcpu::run(const DeviceBus& io, const DeviceBus& mmio, const std::atomic<bool>& stop) {
    io_ = &io;
    mmio_ = &mmio;
    while (!stop.load()) {
        if (::ioctl(fd(), KVM_RUN, 0) != 0) {
            // EINTR: a kick (request_exit) or another signal; the loop checks `stop` again.
            if (errno == EINTR || errno == EAGAIN) continue;
            return fail_errno(name() + ": KVM_RUN");
        }
        switch (run_->exit_reason) {
            case KVM_EXIT_IO: handle_io(); break;
            case KVM_EXIT_MMIO: handle_mmio(); break;
            case KVM_EXIT_HLT:  // only without an in-kernel LAPIC: the vCPU is done
                return {};
            case KVM_EXIT_SHUTDOWN:
                return fail(name() + ": the guest shut down (a triple fault: it faulted with no usable IDT)");
            case KVM_EXIT_SYSTEM_EVENT:
                return fail(name() + ": the guest asked for a system event (type " +
                            std::to_string(run_->system_event.type) + ") and gave no exit code");
            case KVM_EXIT_FAIL_ENTRY:
                return fail(name() + ": KVM could not enter the guest (hardware reason " +
                            hex(run_->fail_entry.hardware_entry_failure_reason) + ")");
            case KVM_EXIT_INTERNAL_ERROR:
                return fail(name() + ": KVM internal error " + std::to_string(run_->internal.suberror) +
                            (run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                                 ? " (an instruction KVM could not emulate)"
                                 : ""));
            default:
                return fail(name() + ": an exit the VMM does not handle (reason " +
                            std::to_string(run_->exit_reason) + ")");
        }
    }
    return {};
}

// A port access, or `count` of them for a string instruction (rep ins/outs), whose data KVM
// lays out one after another in the kvm_run page.
void Vcpu::handle_io() const {
    auto& io = run_->io;
    auto* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
    for (uint32_t i = 0; i < io.count; ++i) {
        std::span<uint8_t> bytes(data + i * io.size, io.size);
        if (io.direction == KVM_EXIT_IO_OUT)
            io_->write(io.port, bytes);
        else
            io_->read(io.port, bytes);
    }
}

void Vcpu::handle_mmio() const {
    auto& mmio = run_->mmio;
    std::span<uint8_t> bytes(mmio.data, std::min<size_t>(mmio.len, sizeof mmio.data));
    if (mmio.is_write)
        mmio_->write(mmio.phys_addr, bytes);
    else
        mmio_->read(mmio.phys_addr, bytes);
}

}  // namespace hutch::microvm
