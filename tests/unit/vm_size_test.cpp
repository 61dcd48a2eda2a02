// A container's VM sized by its limits (microvm/host/vm_size.h): the memory limit plus the guest's
// own, ceil(cpus) vCPUs, and the defaults without limits.
#include "microvm/host/vm_size.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace hutch::microvm;
using hutch::microvm::host::vm_memory_overhead_mib;
using hutch::microvm::host::vm_size_for;

namespace {

GuestLimits memory(int64_t bytes) {
    GuestLimits limits;
    limits.memory_bytes = bytes;
    return limits;
}

GuestLimits cpu_quota(int64_t microseconds) {
    GuestLimits limits;
    limits.cpu_quota = microseconds;
    return limits;
}

}  // namespace

TEST_CASE("vm size: without limits, the default memory and one vCPU", "[vm-size]") {
    auto size = vm_size_for({}, 512);
    REQUIRE(size);
    CHECK(size->memory_mib == 512);
    CHECK(size->vcpus == 1);
}

TEST_CASE("vm size: the memory limit, rounded up to MiB, plus the guest's overhead", "[vm-size]") {
    auto size = vm_size_for(memory(64 << 20), 512);
    REQUIRE(size);
    CHECK(size->memory_mib == 64 + 128 + 4);  // 128 MiB and 1/16 of the limit for the guest
    auto odd = vm_size_for(memory((64 << 20) + 1), 512);
    REQUIRE(odd);
    CHECK(odd->memory_mib == 65 + vm_memory_overhead_mib(65));
    // More than the host has: one line that says so, not a VMM failing to allocate.
    auto huge = vm_size_for(memory(int64_t{1} << 60), 512);
    REQUIRE_FALSE(huge);
    CHECK(huge.error().message.find("more than this host's") != std::string::npos);
}

TEST_CASE("vm size: ceil(cpus) vCPUs, at most this host's", "[vm-size]") {
    unsigned host = static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN));
    auto half = vm_size_for(cpu_quota(50'000), 512);
    REQUIRE(half);
    CHECK(half->vcpus == 1);
    auto one_and_a_half = vm_size_for(cpu_quota(150'000), 512);
    REQUIRE(one_and_a_half);
    CHECK(one_and_a_half->vcpus == std::min(2u, host));
    auto many = vm_size_for(cpu_quota(100 * 100'000), 512);
    REQUIRE(many);
    CHECK(many->vcpus == std::min(host, host::guest_max_vcpus));
}

TEST_CASE("vm size: no limit (-1) sizes as none", "[vm-size]") {
    auto size = vm_size_for(memory(-1), 512);
    REQUIRE(size);
    CHECK(size->memory_mib == 512);
    auto unlimited_cpu = vm_size_for(cpu_quota(-1), 512);
    REQUIRE(unlimited_cpu);
    CHECK(unlimited_cpu->vcpus == 1);
}

TEST_CASE("vm size: an update's memory limit fits only as the VM was sized for it", "[vm-size]") {
    using hutch::microvm::host::check_memory_limit_fits;
    unsigned vm = 64 + vm_memory_overhead_mib(64);  // booted for a 64 MiB limit
    CHECK(check_memory_limit_fits(memory(64 << 20), vm));
    CHECK(check_memory_limit_fits(memory(32 << 20), vm));
    CHECK(check_memory_limit_fits(memory(-1), vm));  // no limit: the VM is the bound
    CHECK(check_memory_limit_fits({}, vm));
    auto more = check_memory_limit_fits(memory(65 << 20), vm);
    REQUIRE_FALSE(more);
    CHECK(more.error().message ==
          "a memory limit of 65 MiB needs a VM of 197 MiB, and this one has 196 MiB, "
          "fixed when it booted");
}
