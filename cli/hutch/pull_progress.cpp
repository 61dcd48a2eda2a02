// `hutch pull`'s progress lines (pull_progress.h).
#include "cli/hutch/pull_progress.h"

#include <cstdio>

namespace hutch::cli {
namespace {

std::string megabytes(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return text;
}

}  // namespace

size_t PullProgress::add(const std::string& label, uint64_t total) {
    std::lock_guard lock(mutex_);
    lines_.push_back({label, total, 0, {}});
    draw(true);
    return lines_.size() - 1;
}

void PullProgress::received(size_t line, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    lines_.at(line).received = bytes;
    draw(false);
}

void PullProgress::finished(size_t line, const std::string& state) {
    std::lock_guard lock(mutex_);
    lines_.at(line).state = state;
    draw(true);
}

std::string PullProgress::text(const Line& line) const {
    std::string shown = line.label + ": ";
    if (!line.state.empty()) return shown + line.state;
    return shown + "fetching " + megabytes(line.received) + " / " + megabytes(line.total);
}

// Back up over the lines drawn before and draw them all again, at most ten times a second.
void PullProgress::draw(bool force) {
    if (!shown_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::string out;
    if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A";
    for (const Line& line : lines_) out += "\r\x1b[2K" + text(line) + "\n";
    drawn_ = lines_.size();
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace hutch::cli
