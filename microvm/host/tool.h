// The microVM's host side's helper programs: mkfs.erofs run to its end, and hutch's own helpers
// found beside the running binary.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::microvm::host {

// Runs argv (looked up in PATH) with stdin and stdout on /dev/null and waits for it; fails with
// the last line of its stderr when it does not exit 0.
ErrorOr<void> run_tool(const std::vector<std::string>& argv);

// A program of hutch's installed beside the running one (hutch-agent, hutch-vmm): $env_var when it
// is set, else the file `name` in the directory of /proc/self/exe.
std::string beside_self(const std::string& name, const char* env_var);

}  // namespace hutch::microvm::host
