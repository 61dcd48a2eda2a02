// The `hutch` command's own stdin, stdout and stderr, which the runtime's clone hands to a
// container: swapped for pipes around a create, or pointed at /dev/null.
#pragma once

#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::cli {

// Puts other fds on 0, 1 and 2 for as long as it lives, so that the runtime's clone gives them
// to the container; the originals come back after.
class StdioSwap {
public:
    StdioSwap() = default;
    StdioSwap(const StdioSwap&) = delete;
    StdioSwap& operator=(const StdioSwap&) = delete;
    ~StdioSwap() { restore(); }
    ErrorOr<void> put(int target, int fd);
    void restore();

private:
    std::vector<std::pair<int, UniqueFd>> saved_;
};

// stdin reads nothing (end of file at once): a container or exec process without -i.
ErrorOr<void> stdin_from_null();

// All three on /dev/null: a detached monitor keeps nothing of the terminal it came from.
void stdio_to_null();

}  // namespace hutch::cli
