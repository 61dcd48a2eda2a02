// `events` output: runc's types.Event and types.Stats JSON (libcontainer's events types), one
// object a line. Counters hutch does not read (blkio, kernel memory, RDT, network) are left out
// rather than reported as 0; the rest follows Go's encoding of those types, omitempty included.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cgroups/manager.h"

namespace hutch::runtime {

// {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...,"hugetlb":...}}
nlohmann::ordered_json stats_event(const std::string& id, const cgroups::Stats& stats);

// {"type":"oom","id":ID}: the OOM killer took a process in the container's cgroup.
nlohmann::ordered_json oom_event(const std::string& id);

}  // namespace hutch::runtime
