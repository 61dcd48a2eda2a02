// `events`' stream, whatever the counters come from: the host's cgroups (the linux backend) or the
// agent's reads of the container's cgroup in its microVM (hutch-vm-relay --events).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "base/error.h"
#include "cgroups/manager.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

using StatsSource = std::function<ErrorOr<cgroups::Stats>()>;

// With options.stats, one stats event. Else a stats event every interval and an "oom" event for
// each new OOM kill, until the process behind pidfd exits (none: it has already); a failed read
// is logged then, and the next interval tries again, as in runc.
ErrorOr<void> emit_events(const std::string& id, int pidfd, const StatsSource& stats,
                          const EventsOptions& options, const EventSink& emit);

}  // namespace hutch::runtime
