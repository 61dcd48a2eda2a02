// The top of both executables' main(): whatever the command line throws (a failed allocation, a
// bug) ends as one line and status 1, through report(what), not as std::terminate's abort
// (status 134, a core dump), which callers such as containerd do not read as an error message.
// CLI11's parse errors never get here: CLI11_PARSE handles them.
#pragma once

#include <exception>

namespace hutch {

// run() -> exit status; report(const char* what) noexcept -> exit status.
template <typename Run, typename Report>
int run_guarded(Run run, Report report) noexcept {
    try {
        return run();
    } catch (const std::exception& e) {
        return report(e.what());
    } catch (...) {
        return report("an exception that is not a std::exception");
    }
}

}  // namespace hutch
