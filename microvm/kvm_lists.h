// The KVM ioctls that take a counted list (CPUID entries, MSRs), with the kernel's layout.
//
// linux-libc-dev's <linux/kvm.h> declares kvm_cpuid2 and kvm_msrs with __DECLARE_FLEX_ARRAY,
// which wraps the array in a struct after an empty struct member: in C that is 0 bytes, but in
// C++ 1, so the entries land at offset 12 or 16 instead of the kernel's 8, and the ioctl numbers,
// which encode the struct's size, are wrong too (KVM answers EINVAL). Kernels from 6.6 fix the
// header for C++; until every supported host has one, hutch declares the lists itself.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace hutch::microvm {

// The header both lists share: a count and 4 bytes of padding, then the entries.
struct KvmListHeader {
    uint32_t count;
    uint32_t padding;
};

template <typename Entry, size_t Capacity>
struct KvmList {
    uint32_t count = 0;
    uint32_t padding = 0;
    Entry entries[Capacity] = {};
};

// The kernel keeps at most 256 CPUID entries per vCPU (KVM_MAX_CPUID_ENTRIES).
constexpr size_t kMaxCpuidEntries = 256;
using CpuidList = KvmList<kvm_cpuid_entry2, kMaxCpuidEntries>;
static_assert(offsetof(CpuidList, entries) == sizeof(KvmListHeader));

template <size_t Capacity>
using MsrList = KvmList<kvm_msr_entry, Capacity>;

constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmListHeader);
constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmListHeader);
constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmListHeader);

}  // namespace hutch::microvm
