// `events`: the container's usage counters (`--stats`: once), or a stream of them every interval
// with an "oom" event whenever the OOM killer takes a process in its cgroups, until it stops.
// Where the counters come from is the backend's.
#include <poll.h>

#include <algorithm>

#include "base/json.h"
#include "base/log.h"
#include "cgroups/manager.h"
#include "runtime/backend.h"
#include "runtime/create_internal.h"
#include "runtime/event_stream.h"
#include "runtime/events_json.h"

namespace hutch::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How soon a new OOM kill is reported: the cgroup's kill counter is read this often. A poll, not
// memory.events' inotify (v2) or an eventfd on memory.oom_control (v1): one way for every layout
// and backend, through the stats source (a host's Manager::stats(), or a microVM agent's answer),
// for a dozen small reads a tenth of a second.
constexpr auto kOomPollPeriod = 100ms;

// True once the process behind pidfd has exited, waiting at most timeout for it.
bool exited_within(int pidfd, Clock::duration timeout) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(timeout, Clock::duration::zero()));
    struct pollfd pfd = {pidfd, POLLIN, 0};
    return ::poll(&pfd, 1, static_cast<int>(ms.count())) > 0;
}

ErrorOr<void> stream(const std::string& id, int pidfd, const StatsSource& read_stats,
                     Clock::duration interval, const EventSink& emit) {
    // Only kills from now on are news.
    uint64_t oom_kills = TRY(read_stats()).oom_kills;
    auto next_stats = Clock::now() + interval;  // the first one after an interval, as in runc
    for (;;) {
        bool exited =
            exited_within(pidfd, std::min<Clock::duration>(kOomPollPeriod, next_stats - Clock::now()));
        // Read once more after the exit: the kill that ended the container is reported too.
        auto stats = read_stats();
        if (stats && stats->oom_kills > oom_kills) emit(json_text(oom_event(id)));
        if (stats) oom_kills = stats->oom_kills;
        if (exited) return {};
        auto now = Clock::now();
        if (now < next_stats) continue;
        // As runc: a failed read is logged, and the next interval tries again.
        if (stats) emit(json_text(stats_event(id, *stats)));
        if (!stats) log::error(stats.error().message);
        next_stats += interval;
        if (next_stats <= now) next_stats = now + interval;  // ticks missed are not made up for
    }
}

}  // namespace

ErrorOr<void> emit_events(const std::string& id, int pidfd, const StatsSource& stats,
                          const EventsOptions& options, const EventSink& emit) {
    if (options.stats) {
        emit(json_text(stats_event(id, TRY(stats()))));
        return {};
    }
    if (pidfd < 0) return {};  // stopped meanwhile
    return stream(id, pidfd, stats, std::chrono::duration_cast<Clock::duration>(options.interval), emit);
}

ErrorOr<void> events(const std::string& root, const std::string& id, const EventsOptions& options,
                     const EventSink& emit) {
    if (options.interval <= Clock::duration::zero()) return fail("--interval: must be greater than 0");
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    if (status == Status::stopped) return fail("container " + id + " is not running");
    UniqueFd pidfd = open_container_pidfd(container.state);
    // events lasts as long as the container, and must not hold off kill or delete.
    container.unlock();
    return backend_of(container.state).events(container, status, std::move(pidfd), options, emit);
}

}  // namespace hutch::runtime
