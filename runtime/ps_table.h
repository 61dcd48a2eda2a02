// `ps` in its table form: the host's ps(1) output cut down to the container's processes, as runc
// does. filter_ps_table is pure, unit-tested.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::runtime {

// ps's header line, then each line whose PID column (found by its title in the header) is one of
// pids. Fails when the header has no PID column or a line's PID is not a number.
ErrorOr<std::string> filter_ps_table(const std::string& ps_output, const std::vector<pid_t>& pids);

// `ps ps_args` (default -ef) run on the host, cut down to its header and the lines of pids.
ErrorOr<std::string> host_ps_table(const std::vector<pid_t>& pids, const std::vector<std::string>& ps_args);

}  // namespace hutch::runtime
