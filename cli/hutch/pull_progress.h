// What `hutch pull` shows while it fetches: on a terminal, one line per blob, redrawn in place as
// the bytes come ("fetching 12.3 MB / 40.1 MB"), docker's and podman's progress; elsewhere
// nothing, so that a script's output holds only the digest. Blobs may be fetched by several
// threads at once: every call takes the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hutch::cli {

class PullProgress {
public:
    // Draws only when shown (stderr is a terminal and the caller wants progress).
    explicit PullProgress(bool shown) : shown_(shown) {}
    PullProgress(const PullProgress&) = delete;
    PullProgress& operator=(const PullProgress&) = delete;

    // A line for a blob of total bytes; returns its number.
    size_t add(const std::string& label, uint64_t total);
    void received(size_t line, uint64_t bytes);
    // "done", "already stored", "failed": drawn at once, so the last state of every line is on
    // the screen before anything else is printed.
    void finished(size_t line, const std::string& state);

private:
    struct Line {
        std::string label;
        uint64_t total = 0;
        uint64_t received = 0;
        std::string state;  // empty while it is being fetched
    };
    void draw(bool force);  // with the lock held
    std::string text(const Line& line) const;

    bool shown_;
    std::mutex mutex_;
    std::vector<Line> lines_;
    size_t drawn_ = 0;  // lines on the screen, to go back up over
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace hutch::cli
