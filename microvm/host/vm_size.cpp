#include "microvm/host/vm_size.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace hutch::microvm::host {

namespace {

constexpr int64_t mib = 1 << 20;

uint64_t host_memory_mib() {
    long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / mib
                                      : UINT64_MAX;
}

unsigned host_cpus() {
    long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<unsigned>(online) : 1;
}

uint64_t limit_mib_of(int64_t bytes) { return (static_cast<uint64_t>(bytes) + mib - 1) / mib; }

ErrorOr<unsigned> memory_mib_for(const GuestLimits& limits, unsigned default_memory_mib) {
    if (!limits.memory_bytes || *limits.memory_bytes < 0) return default_memory_mib;
    uint64_t limit_mib = limit_mib_of(*limits.memory_bytes);
    uint64_t overhead = vm_memory_overhead_mib(limit_mib);
    uint64_t vm_mib = limit_mib + overhead;
    if (uint64_t host = host_memory_mib(); vm_mib > host)
        return fail("a VM of " + std::to_string(vm_mib) + " MiB (the limit and " + std::to_string(overhead) +
                    " MiB for the guest) is more than this host's " + std::to_string(host) + " MiB");
    return static_cast<unsigned>(vm_mib);
}

unsigned vcpus_for(const GuestLimits& limits) {
    if (!limits.cpu_quota || *limits.cpu_quota < 0) return 1;
    int64_t period = limits.cpu_period.value_or(default_cpu_period);
    int64_t wanted = (*limits.cpu_quota + period - 1) / period;
    int64_t most = std::min(host_cpus(), guest_max_vcpus);
    return static_cast<unsigned>(std::clamp<int64_t>(wanted, 1, most));
}

}  // namespace

ErrorOr<void> check_memory_limit_fits(const GuestLimits& limits, unsigned vm_memory_mib) {
    if (!limits.memory_bytes || *limits.memory_bytes < 0) return {};
    uint64_t limit_mib = limit_mib_of(*limits.memory_bytes);
    if (uint64_t needs = limit_mib + vm_memory_overhead_mib(limit_mib); needs > vm_memory_mib)
        return fail("a memory limit of " + std::to_string(limit_mib) + " MiB needs a VM of " +
                    std::to_string(needs) + " MiB, and this one has " + std::to_string(vm_memory_mib) +
                    " MiB, fixed when it booted");
    return {};
}

ErrorOr<VmSize> vm_size_for(const GuestLimits& limits, unsigned default_memory_mib) {
    return VmSize{.memory_mib = TRY(memory_mib_for(limits, default_memory_mib)), .vcpus = vcpus_for(limits)};
}

}  // namespace hutch::microvm::host
