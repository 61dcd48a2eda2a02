#include "microvm/vm.h"

#include <sys/ioctl.h>

#include <string>

#include "microvm/memory_layout.h"

namespace hutch::microvm {

ErrorOr<Vm> Vm::create(Kvm kvm, GuestMemory memory) {
    UniqueFd fd(TRY_SYS(::ioctl(kvm.fd(), KVM_CREATE_VM, 0), "KVM_CREATE_VM"));
    // Both before any vCPU exists, at addresses in the MMIO hole that no RAM or device uses.
    TRY_SYS(::ioctl(fd.get(), KVM_SET_TSS_ADDR, layout::kKvmTss), "KVM_SET_TSS_ADDR");
    uint64_t identity_map = layout::kKvmIdentityMap;
    TRY_SYS(::ioctl(fd.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map), "KVM_SET_IDENTITY_MAP_ADDR");
    TRY_SYS(::ioctl(fd.get(), KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit = {};
    TRY_SYS(::ioctl(fd.get(), KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
    kvm_userspace_memory_region region = {};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = memory.size();
    region.userspace_addr = reinterpret_cast<uint64_t>(memory.host_address());
    TRY_SYS(::ioctl(fd.get(), KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
    return Vm(std::move(kvm), std::move(fd), std::move(memory));
}

ErrorOr<void> Vm::map_memory(uint32_t slot, uint64_t guest_address, uint64_t size, const uint8_t* host,
                             bool read_only) const {
    if (read_only && ::ioctl(kvm_.fd(), KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
        return fail("this host's KVM lacks KVM_CAP_READONLY_MEM, which a read-only memory slot needs");
    kvm_userspace_memory_region region = {};
    region.slot = slot;
    region.flags = read_only ? KVM_MEM_READONLY : 0;
    region.guest_phys_addr = guest_address;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    TRY_SYS(::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region),
            "KVM_SET_USER_MEMORY_REGION (slot " + std::to_string(slot) + ")");
    return {};
}

}  // namespace hutch::microvm
