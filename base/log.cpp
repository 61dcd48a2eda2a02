#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/file.h"
#include "base/json.h"
#include "base/timestamp.h"

namespace hutch::log {
namespace {

struct Sink {
    UniqueFd fd;
    Format format = Format::text;
    bool debug = false;
};

Sink& sink() {
    static Sink s;
    return s;
}

const char* level_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "error";
}

}  // namespace

void configure(const std::string& path, Format format, bool debug) {
    Sink& s = sink();
    s.format = format;
    s.debug = debug;
    if (!path.empty()) s.fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
}

// Debug lines carry the monotonic clock in ms, the same in every process: subtracting two lines
// gives the time a phase of the start path took, across the parent and the container's process.
std::string with_clock(Level level, const std::string& message) {
    if (level != Level::debug) return message;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char clock[48];
    std::snprintf(clock, sizeof clock, " [t=%.3f ms pid=%d]", ts.tv_sec * 1e3 + ts.tv_nsec / 1e6, getpid());
    return message + clock;
}

void write(Level level, const std::string& raw_message) {
    Sink& s = sink();
    if (level == Level::debug && !s.debug) return;
    std::string message = with_clock(level, raw_message);
    if (s.fd) {
        std::string line;
        if (s.format == Format::json) {
            nlohmann::json j = {{"level", level_name(level)}, {"msg", message}, {"time", rfc3339_now(false)}};
            line = json_text(j) + "\n";  // messages hold paths and hook output: any bytes
        } else {
            line = "time=\"" + rfc3339_now(false) + "\" level=" + level_name(level) + " msg=\"" + message +
                   "\"\n";
        }
        (void)write_all(s.fd.get(), line);
    }
    // Like runc, errors always reach stderr too: a person at a terminal reads them there. Without
    // a log file, warnings (a failing poststop hook) go there as well, as runc's do.
    if (level == Level::error || (!s.fd && (s.debug || level == Level::warning)))
        std::fprintf(stderr, "%s%s\n", level == Level::warning ? "warning: " : "", message.c_str());
}

}  // namespace hutch::log
