// A thread of a device's own for work that no vCPU starts: it waits, with epoll, on host fds the
// device registers, and calls the device's handler for each event, until stopped (an eventfd of
// its own). The fds are registered one-shot: an event disarms its fd, and the device arms it
// again (arm(), from any thread) only when it wants more. So a device that cannot take more now
// (no guest buffer to read into) leaves its fd quiet instead of being woken for ever by a level
// that stays up, and a stale arming costs one wasted wake-up at most.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm {

class IoThread {
public:
    // Called on the I/O thread with the key an fd was registered under and epoll's events.
    using Handler = std::function<void(uint64_t key, uint32_t events)>;

    static ErrorOr<std::unique_ptr<IoThread>> create();
    IoThread(const IoThread&) = delete;
    IoThread& operator=(const IoThread&) = delete;
    ~IoThread();  // stops and joins

    // Registers `fd` (not owned, open while the thread runs) disarmed, or with `persistent` armed
    // for input for good (an eventfd the handler reads).
    ErrorOr<void> add(int fd, uint64_t key, bool persistent = false);
    // Arms `fd` for one event of `events` (EPOLLIN, EPOLLOUT; a hang-up or an error always counts).
    void arm(int fd, uint64_t key, uint32_t events) const;

    ErrorOr<void> start(Handler handler);
    void stop();

private:
    IoThread(UniqueFd epoll, UniqueFd stop) : epoll_(std::move(epoll)), stop_(std::move(stop)) {}
    void run() const;

    UniqueFd epoll_;
    UniqueFd stop_;  // an eventfd: readable once the thread is to end
    Handler handler_;
    std::thread thread_;
};

}  // namespace hutch::microvm
