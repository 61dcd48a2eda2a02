// The unit properties that give a container's systemd scope its limits, computed from the spec's
// fields the way runc's systemd driver computes them. What systemd has no property for (cpu.idle,
// cpu.max.burst, io.max, hugetlb, rdma, most unified keys) is left to the cgroupfs writes that
// follow (v2_resources.h). Pure functions, internal to cgroups/ (unit-tested).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroups/device_rules.h"
#include "cgroups/systemd_protocol.h"
#include "spec/spec.h"

namespace hutch::cgroups {

// systemd's "infinity" for sizes, counts and times.
inline constexpr uint64_t kInfinity = UINT64_MAX;

// A cpuset list ("0-3,5") as the byte array of AllowedCPUs/AllowedMemoryNodes: bit i%8 of byte
// i/8 for each i listed. Spaces around items and empty items are allowed, as in runc; a malformed
// item, a reversed range, an index above 65535 or an empty mask is an error naming field.
ErrorOr<std::vector<uint8_t>> cpu_mask_bytes(std::string_view list, std::string_view field);

// CPUQuotaPerSecUSec: quota/period as microseconds per second, rounded up to 10 ms (systemd keeps
// CPUQuota as a whole percentage, so a finer quota would come out smaller than asked); infinity
// for no quota (absent, 0, negative). The period defaults to 100 ms, as the kernel's does.
uint64_t cpu_quota_per_sec_usec(std::optional<int64_t> quota, std::optional<uint64_t> period);

// DevicePolicy and DeviceAllow for policy: a default-deny policy is "strict" with each exception
// allowed as systemd names devices ("/dev/char/1:3", "char-136" for any minor, "char-*"); a
// default-allow policy, and one with an exception systemd cannot name (any major with one minor),
// is "auto" with no list, and the device program that hutch attaches beside systemd's
// (device_program.h) is then what enforces it.
std::vector<systemd::Property> device_properties(const DevicePolicy& policy);

// The properties for the fields of resources that systemd has properties for: MemoryMax, MemoryLow,
// MemorySwapMax, CPUWeight, CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, AllowedCPUs,
// AllowedMemoryNodes, TasksMax, IOWeight, then the unified keys systemd knows (memory.min, .low,
// .high, .max, .swap.max, pids.max, cpu.weight, cpu.max, cpuset.cpus, cpuset.mems), last, so that
// they override as they do in the cgroup files. Not the devices. Errors name the field.
ErrorOr<std::vector<systemd::Property>> resource_properties(const spec::Resources& resources);

// Everything StartTransientUnit is given for a container's scope: Description
// "hutch container ID", Slice, Delegate (the container manages the cgroups below its scope),
// PIDs (pid is moved in by systemd), DefaultDependencies=false (a container outlives no
// shutdown ordering of its own), accounting for memory, CPU, tasks and I/O (which makes systemd
// enable those controllers for the scope), the device policy and resource_properties().
ErrorOr<std::vector<systemd::Property>> scope_properties(const std::string& container_id,
                                                         const std::string& slice, pid_t pid,
                                                         const spec::Resources* resources);

}  // namespace hutch::cgroups
