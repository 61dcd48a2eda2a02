#include "microvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <memory>
#include <string>

#include "microvm/kvm_lists.h"

namespace hutch::microvm {

namespace {

struct RequiredCapability {
    int capability;
    const char* name;
};

// What the VMM cannot work without: memory slots, the in-kernel interrupt controllers and PIT,
// the real-mode helper pages (Intel), the 0x8000_0000 CPUID leaves, and immediate_exit, which
// lets a vCPU thread be stopped without a race against its entering KVM_RUN.
constexpr RequiredCapability kRequired[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

}  // namespace

ErrorOr<Kvm> Kvm::open() {
    Kvm kvm(UniqueFd(TRY_SYS(::open("/dev/kvm", O_RDWR | O_CLOEXEC), "open /dev/kvm")));
    int version = ::ioctl(kvm.fd(), KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        return fail("/dev/kvm: API version " + std::to_string(version) + ", not the " +
                    std::to_string(KVM_API_VERSION) + " this VMM speaks");
    for (auto [capability, name] : kRequired)
        if (::ioctl(kvm.fd(), KVM_CHECK_EXTENSION, capability) <= 0)
            return fail(std::string("/dev/kvm: this host's KVM lacks ") + name);
    kvm.vcpu_mmap_size_ = TRY_SYS(::ioctl(kvm.fd(), KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
    // KVM_CAP_MAX_VCPUS is the hard limit; older kernels report only the recommended number.
    int max = ::ioctl(kvm.fd(), KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0) max = ::ioctl(kvm.fd(), KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    kvm.max_vcpus_ = max > 0 ? static_cast<uint32_t>(max) : 1;
    return kvm;
}

ErrorOr<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const {
    auto list = std::make_unique<CpuidList>();
    list->count = kMaxCpuidEntries;
    TRY_SYS(::ioctl(fd(), kKvmGetSupportedCpuid, list.get()), "KVM_GET_SUPPORTED_CPUID");
    return std::vector<kvm_cpuid_entry2>(list->entries, list->entries + list->count);
}

}  // namespace hutch::microvm
