// Runs a helper program (mkfs.erofs) to its end, for the microVM's host side.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::microvm::qemu {

// Runs argv (looked up in PATH) with stdin and stdout on /dev/null and waits for it; fails with
// the last line of its stderr when it does not exit 0.
ErrorOr<void> run_tool(const std::vector<std::string>& argv);

}  // namespace hutch::microvm::qemu
