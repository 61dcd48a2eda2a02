// The CPUID a vCPU shows its guest: what the host's KVM supports (Kvm::supported_cpuid), with
// the VMM's changes: the hypervisor bit, the vCPU's own APIC id, and a topology of `count` cores
// in one package, one thread each, whatever the host's is (leaves 1, 4, 0xb, 0x1f, 0x8000_0008).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace hutch::microvm {

// Leaf 1 ECX bit 31: "running under a hypervisor", which guests test before they look at the
// 0x4000_0000 leaves (KVM's signature and paravirtual features).
constexpr uint32_t kCpuidHypervisorBit = 1u << 31;

// Rewrites `entries` (a copy of the supported set) for vCPU `index` of `count`. Pure, so that
// the rules are tested without KVM.
void adapt_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count);

}  // namespace hutch::microvm
