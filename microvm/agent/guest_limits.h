// The container's cgroup limits in its microVM's guest: what config.json's linux.resources (or
// hutch run --vm's flags) says, as the agent writes it into the container's cgroup at create and
// at hutch-oci update. Shared by the agent, the host's side and hutch-oci (which computes an
// update's), so that which resources a VM takes is said once, here.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::microvm {

// The agent starts the process in a cgroup that has them, inside a VM sized for the memory limit
// and the CPU quota (the VM's size is the hard bound; the cgroup is what the process sees, as on
// a host). Each absent one is left as it is; -1 is "max", no limit.
struct GuestLimits {
    std::optional<int64_t> memory_bytes;  // memory.max
    std::optional<int64_t> memory_low;    // memory.low: linux.resources.memory.reservation
    std::optional<int64_t> cpu_quota;     // cpu.max: microseconds of CPU time per cpu_period
    std::optional<int64_t> cpu_period;    // microseconds; the kernel's default is 100 ms
    std::optional<uint64_t> cpu_weight;   // cpu.weight (1..10000), from linux.resources.cpu.shares
    std::optional<int64_t> pids_max;      // pids.max
    // linux.resources.unified: cgroup v2 files by name ("memory.high"), written last, as on a host.
    std::map<std::string, std::string> unified;
};
inline constexpr int64_t default_cpu_period = 100'000;

// linux.resources as a VM takes it: the memory limit and reservation, the CPU shares, quota and
// period, the pids limit and the unified files. The rest is about the host's devices and
// controllers the guest does not have (cpuset's CPUs, block I/O, hugetlb, rdma, network classes).
GuestLimits guest_limits(const spec::Resources& resources);

nlohmann::json limits_json(const GuestLimits& limits);
// The ranges the kernel takes, so that a bad value is refused with its field's name (under path)
// rather than by a cgroup file's write; a unified name that is not a file of the cgroup's own
// directory ("a/b", "..") is refused too.
ErrorOr<GuestLimits> parse_limits(const nlohmann::json& value, const std::string& path);

// An update frame's payload, and hutch-vm-relay --update's argument.
std::string to_json(const GuestLimits& limits);
ErrorOr<GuestLimits> parse_guest_limits(std::string_view text);

}  // namespace hutch::microvm
