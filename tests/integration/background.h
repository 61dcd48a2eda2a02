// `hutch-oci ARGS...` in the background, its stdout read line by line (events' stream). Killed
// and reaped when the test leaves, however it leaves.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hutch::test {

class Background {
public:
    explicit Background(const std::vector<std::string>& args);
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    // The next whole line of output, or nullopt when none came within timeout (or output ended).
    std::optional<std::string> next_line(std::chrono::milliseconds timeout);
    // The next line that is a JSON object of this "type", skipping others; null when none came.
    nlohmann::json next_event(const std::string& type, std::chrono::milliseconds timeout);
    // Its exit status, or -1 when it is still running after timeout.
    int wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int out_ = -1;
    std::string buffer_;
};

}  // namespace hutch::test
