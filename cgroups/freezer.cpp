#include "cgroups/freezer.h"

#include <chrono>
#include <string>
#include <thread>

#include "cgroups/cgroup_files.h"

namespace hutch::cgroups {
namespace {

using namespace std::chrono_literals;
// A freeze takes microseconds on an idle host; a loaded one (or an emulated CPU) can take seconds
// to stop every task, so the deadline is generous, as runc's.
constexpr auto kFreezeDeadline = 10s;

// Polls done() until it holds or the deadline passes. Cgroups offer no wait for the freezer in
// v1; in v2 cgroup.events could be polled for a change, but a freeze takes microseconds.
template <typename Done>
ErrorOr<bool> wait_until(Done done) {
    auto deadline = std::chrono::steady_clock::now() + kFreezeDeadline;
    for (auto pause = 100us;; pause = std::min(pause * 2, std::chrono::microseconds(10ms))) {
        if (TRY(done())) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(pause);
    }
}

// "frozen 1" among cgroup.events' "key value" lines.
ErrorOr<bool> events_say_frozen(const std::string& dir) {
    std::string events = TRY(read_cgroup_file(dir, "cgroup.events"));
    return events.find("frozen 1") != std::string::npos;
}

}  // namespace

ErrorOr<void> freeze_v1(const std::string& dir) {
    bool frozen = TRY(wait_until([&]() -> ErrorOr<bool> {
        TRY(write_cgroup_file(dir, "freezer.state", "FROZEN", "cgroups: freeze"));
        return is_frozen_v1(dir);
    }));
    if (frozen) return {};
    (void)thaw_v1(dir);
    return fail("cgroups: freeze " + dir + ": still FREEZING after " +
                std::to_string(kFreezeDeadline.count()) + " s (a process in an uninterruptible sleep?)");
}

ErrorOr<void> thaw_v1(const std::string& dir) {
    return write_cgroup_file(dir, "freezer.state", "THAWED", "cgroups: thaw");
}

ErrorOr<bool> is_frozen_v1(const std::string& dir) {
    return TRY(read_cgroup_file(dir, "freezer.state")) == "FROZEN";
}

ErrorOr<void> freeze_v2(const std::string& dir) {
    TRY(write_cgroup_file(dir, "cgroup.freeze", "1", "cgroups: freeze"));
    if (TRY(wait_until([&] { return events_say_frozen(dir); }))) return {};
    (void)thaw_v2(dir);
    return fail("cgroups: freeze " + dir + ": cgroup.events did not report frozen within " +
                std::to_string(kFreezeDeadline.count()) + " s");
}

ErrorOr<void> thaw_v2(const std::string& dir) {
    return write_cgroup_file(dir, "cgroup.freeze", "0", "cgroups: thaw");
}

ErrorOr<bool> is_frozen_v2(const std::string& dir) {
    // cgroup.freeze says what was asked; a cgroup being frozen reports "frozen 0" until it is.
    return TRY(read_cgroup_file(dir, "cgroup.freeze")) == "1" && TRY(events_say_frozen(dir));
}

}  // namespace hutch::cgroups
