#include "microvm/io_thread.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

#include "base/log.h"

namespace hutch::microvm {

namespace {

constexpr uint64_t kStopKey = ~uint64_t{0};

ErrorOr<void> control(int epoll, int operation, int fd, uint64_t key, uint32_t events) {
    epoll_event event = {};
    event.events = events;
    event.data.u64 = key;
    TRY_SYS(::epoll_ctl(epoll, operation, fd, &event), "epoll_ctl");
    return {};
}

}  // namespace

ErrorOr<std::unique_ptr<IoThread>> IoThread::create() {
    UniqueFd epoll(TRY_SYS(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
    UniqueFd stop(TRY_SYS(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd"));
    TRY(control(epoll.get(), EPOLL_CTL_ADD, stop.get(), kStopKey, EPOLLIN));
    return std::unique_ptr<IoThread>(new IoThread(std::move(epoll), std::move(stop)));
}

IoThread::~IoThread() { stop(); }

ErrorOr<void> IoThread::add(int fd, uint64_t key, bool persistent) {
    // Disarmed: EPOLLONESHOT with no events. The kernel adds hang-up and error, which report once
    // and disarm the fd like any other event.
    return control(epoll_.get(), EPOLL_CTL_ADD, fd, key, persistent ? EPOLLIN : EPOLLONESHOT);
}

void IoThread::arm(int fd, uint64_t key, uint32_t events) const {
    // Fails only for an fd that is not registered: a device's mistake, which leaves it quiet.
    if (auto result = control(epoll_.get(), EPOLL_CTL_MOD, fd, key, events | EPOLLONESHOT); !result)
        log::warn("I/O thread: " + result.error().message);
}

ErrorOr<void> IoThread::start(Handler handler) {
    handler_ = std::move(handler);
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
        return fail(std::string("the I/O thread: ") + e.what());
    }
    return {};
}

void IoThread::stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    // An eventfd's write fails only on overflow, which one write cannot reach.
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
}

void IoThread::run() const {
    epoll_event events[16];
    for (;;) {
        int count = ::epoll_wait(epoll_.get(), events, 16, -1);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            log::warn("I/O thread: epoll_wait: " + std::string(std::strerror(errno)));
            return;
        }
        for (int i = 0; i < count; ++i) {
            if (events[i].data.u64 == kStopKey) return;
            handler_(events[i].data.u64, events[i].events);
        }
    }
}

}  // namespace hutch::microvm
