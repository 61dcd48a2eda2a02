// How the `hutch` command shows a failure: one line on stderr, "hutch: WHAT", whatever the
// message holds; and the verbs over several containers that go on past one that fails.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::cli {

// The status of every failure of hutch itself (bad flags, no such container, a failed setup), as
// docker's 125: apart from a container's own status, which `run` and `exec` pass through.
inline constexpr int kHutchFailed = 125;

void print_failure_line(std::string message);

// Acts on each name in turn, as docker's rm, kill and stop do: a failure is shown on its own line
// and the others are still acted on. The last failure is returned (for the caller to show), so
// that each is shown once.
ErrorOr<void> for_each_name(const std::vector<std::string>& names,
                            const std::function<ErrorOr<void>(const std::string&)>& act);

}  // namespace hutch::cli
