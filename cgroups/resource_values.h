// The values written to cgroup files, computed from the spec's fields the way runc computes them,
// so that a container gets the same limits under hutch as under runc. Pure functions, internal to
// cgroups/ (unit-tested), and compiled into hutch-agent for the container's cgroup in a microVM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::cgroups {

// rdma.max: "mlx5_1 hca_handle=2 hca_object=2000" (only the limits given).
std::string rdma_line(const std::string& device, const spec::RdmaLimit& limit);

// cpu.shares (2..262144) to cpu.weight (1..10000): 1 + ((shares - 2) * 9999) / 262142.
uint64_t cpu_weight_from_shares(uint64_t shares);

// cpu.max from quota and period: "max" for no quota (absent, 0 or negative), with the period
// when one is given ("50000 100000", "max 100000", "max").
std::string cpu_max(std::optional<int64_t> quota, std::optional<uint64_t> period);

// The quota of a cpu.max line ("50000 100000" -> 50000, "max 100000" -> -1): what an update of
// the period alone keeps, as runc's update keeps the quota it recorded.
ErrorOr<int64_t> quota_of_cpu_max(std::string_view line);

// blkio.weight (10..1000) to io.weight (1..10000): 1 + (weight - 10) * 9999 / 990.
uint64_t io_weight_from_blkio(uint64_t weight);

// The spec's memory.swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
// Returns the value for memory.swap.max, or nullopt when nothing is to be written:
//   swap absent or 0          -> nothing (unless limit == -1: unlimited both, "max")
//   swap -1                   -> "max"
//   swap == limit             -> "0" (no swap)
//   swap > limit > 0          -> swap - limit
// A swap below the memory limit, or a swap limit without a memory limit, is an error naming the
// field, as in runc.
ErrorOr<std::optional<std::string>> v2_swap_max(std::optional<int64_t> limit, std::optional<int64_t> swap);

// A limit in bytes, where -1 means unlimited: "max" or the number.
std::string bytes_or_max(int64_t value);

}  // namespace hutch::cgroups
