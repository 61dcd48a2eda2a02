// Reading a container's usage counters (`events --stats`) from its cgroup files, in the units
// and with the meanings runc's `events` reports (nanoseconds of CPU; swap as memory+swap, v1's
// memsw). Internal to cgroups/, and to hutch-agent, which reads its container's cgroup in a
// microVM with read_v2_stats. A counter that the host does not offer (no such file) stays 0; a
// file that exists but cannot be read or parsed is an error naming it.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cgroups/manager.h"
#include "cgroups/placement.h"

namespace hutch::cgroups {

// v1: cpuacct.usage*, cpu.stat, memory.usage_in_bytes / max_usage / limit / failcnt / memsw.*,
// memory.stat, memory.oom_control's oom_kill, pids.current / pids.max, hugetlb.*.usage_in_bytes.
ErrorOr<Stats> read_v1_stats(const std::vector<Placement>& placements);

// v2: cpu.stat (usage_usec, user_usec, system_usec, nr_periods, nr_throttled, throttled_usec),
// memory.current / memory.peak / memory.max / memory.swap.current / memory.swap.max, memory.stat,
// memory.events (oom_kill; "max" counts as failcnt), pids.current / pids.max, hugetlb.*.current.
ErrorOr<Stats> read_v2_stats(const std::string& dir);

}  // namespace hutch::cgroups
