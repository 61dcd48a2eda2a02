// A container's log, in the format that podman's k8s-file driver and the kubelet write: one
// record per line, "TIMESTAMP STREAM TAG CONTENT", where STREAM is stdout or stderr and TAG is F
// for a whole line (its newline dropped) or P for part of a longer one. So `hutch logs` gives
// each line back to the stream it came from, and the file can be read by tools made for either.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::cli {

// Writes one stream's output as records, holding back an unfinished line until it is finished,
// grows past kMaxPartial, or the stream ends.
class LogStreamWriter {
public:
    static constexpr size_t kMaxPartial = 16 * 1024;
    LogStreamWriter(int log_fd, std::string stream) : log_fd_(log_fd), stream_(std::move(stream)) {}
    void write(std::string_view data);
    // Writes what is held back (the stream ended without a newline).
    void finish();

private:
    void record(std::string_view content, char tag);
    int log_fd_;
    std::string stream_;
    std::string partial_;
};

struct LogReadOptions {
    long tail = -1;  // only the last N lines; -1 for all
    bool timestamps = false;
};

// Parses the records in text; for each line, out(stream, bytes) with the line's bytes (and its
// newline when whole). Lines that are not records are skipped.
void replay_log(std::string_view text, const LogReadOptions& options,
                const std::function<void(std::string_view stream, std::string_view bytes)>& out);

}  // namespace hutch::cli
