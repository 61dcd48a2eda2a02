// Waiting for systemd's jobs: each ends with a JobRemoved(id, path, unit, result) signal.
#include <cstring>

#include "cgroups/systemd_bus/bus.h"

namespace hutch::systemd_bus {

// No sender in the match: on the private socket, with no bus daemon, messages carry none.
ErrorOr<void> JobWatch::install() {
    int r = sd_bus_add_match(bus_, &slot_,
                             "type='signal',interface='org.freedesktop.systemd1.Manager',"
                             "member='JobRemoved',path='/org/freedesktop/systemd1'",
                             on_removed, this);
    if (r < 0) return fail(std::string("systemd: watch for JobRemoved: ") + std::strerror(-r));
    return {};
}

int JobWatch::on_removed(sd_bus_message* message, void* userdata, sd_bus_error*) {
    uint32_t id = 0;
    const char *path = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(message, "uoss", &id, &path, &unit, &result) >= 0)
        static_cast<JobWatch*>(userdata)->results_[path] = result;
    return 0;
}

ErrorOr<std::string> JobWatch::wait(const std::string& job, std::chrono::steady_clock::time_point deadline) {
    using namespace std::chrono;
    while (!results_.contains(job)) {
        int r = sd_bus_process(bus_, nullptr);
        if (r < 0) return fail("systemd: D-Bus: " + std::string(std::strerror(-r)));
        if (r > 0) continue;  // more may be queued
        auto left = duration_cast<microseconds>(deadline - steady_clock::now());
        if (left.count() <= 0) return fail("no JobRemoved signal for " + job + " in time");
        r = sd_bus_wait(bus_, static_cast<uint64_t>(left.count()));
        if (r < 0 && r != -EINTR) return fail("systemd: D-Bus: " + std::string(std::strerror(-r)));
    }
    return results_[job];
}

}  // namespace hutch::systemd_bus
