// /dev/kvm: the hypervisor the VMM drives. Opening it checks the API version and the
// capabilities the VMM relies on, so that a host that lacks one fails at once with its name.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm {

class Kvm {
public:
    static ErrorOr<Kvm> open();

    int fd() const { return fd_.get(); }
    // The size of the kvm_run structure each vCPU maps.
    int vcpu_mmap_size() const { return vcpu_mmap_size_; }
    uint32_t max_vcpus() const { return max_vcpus_; }
    // What this host's KVM can show a guest in CPUID, before the VMM's own changes (cpuid.h).
    ErrorOr<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;

private:
    explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    int vcpu_mmap_size_ = 0;
    uint32_t max_vcpus_ = 1;
};

}  // namespace hutch::microvm
