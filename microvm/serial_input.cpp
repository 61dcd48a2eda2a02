#include "microvm/serial_input.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace hutch::microvm {

namespace {

constexpr uint64_t kInputKey = 0;

}  // namespace

ErrorOr<std::unique_ptr<SerialInput>> SerialInput::create(int fd) {
    auto io = TRY(IoThread::create());
    std::string what = "serial input: fd " + std::to_string(fd);
    if (auto added = io->add(fd, kInputKey); !added) {
        // epoll refuses what it cannot wait on: a regular file, /dev/null.
        if (added.error().code == EPERM) return fail(what + ": not a pipe, socket or terminal");
        return std::unexpected(added.error().context(what));
    }
    return std::unique_ptr<SerialInput>(new SerialInput(fd, std::move(io)));
}

ErrorOr<void> SerialInput::start(Serial& serial) {
    serial_ = &serial;
    TRY(io_->start([this](uint64_t, uint32_t) { on_io(); }));
    io_->arm(fd_, kInputKey, EPOLLIN);
    return {};
}

void SerialInput::wants_input() const {
    if (!ended_) io_->arm(fd_, kInputKey, EPOLLIN);
}

// Readable (or hung up, or failed): as much as the FIFO has room for. A full FIFO leaves the fd
// disarmed; the UART calls wants_input() once the guest made room (input_room() asked it to).
void SerialInput::on_io() {
    size_t room = serial_->input_room();
    if (room == 0) return;
    uint8_t bytes[kSerialFifoSize];
    ssize_t n;
    do n = ::read(fd_, bytes, room);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        io_->arm(fd_, kInputKey, EPOLLIN);  // taken by someone else, or a spurious wake-up
        return;
    }
    if (n <= 0) {
        ended_ = true;
        return;
    }
    serial_->receive({bytes, static_cast<size_t>(n)});
    io_->arm(fd_, kInputKey, EPOLLIN);
}

}  // namespace hutch::microvm
