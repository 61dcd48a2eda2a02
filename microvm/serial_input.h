// Host input for the UART (serial.h), as Firecracker's serial console has it: an I/O thread
// (io_thread.h) waits on a host fd and reads it only into the room the UART's receive FIFO has
// (16 bytes at most), so input waits in the host fd while the guest does not read, and the writer
// blocks: the VMM buffers nothing. End of file, or an fd that fails, ends the input: nothing more
// arrives, and the guest is not told (a UART has no way to say it).
#pragma once

#include <atomic>
#include <memory>

#include "base/error.h"
#include "microvm/io_thread.h"
#include "microvm/serial.h"

namespace hutch::microvm {

class SerialInput {
public:
    // `fd` (not owned, open while this is) must be one epoll can wait on: a pipe, a socket, a
    // terminal; not a regular file or /dev/null. It is read as it is, blocking or not: nothing
    // else may read it, or a read that finds its input taken would wait.
    static ErrorOr<std::unique_ptr<SerialInput>> create(int fd);
    SerialInput(const SerialInput&) = delete;
    SerialInput& operator=(const SerialInput&) = delete;
    ~SerialInput() { stop(); }

    // Starts feeding `serial`, which must outlive the thread (stop()).
    ErrorOr<void> start(Serial& serial);
    void stop() { io_->stop(); }
    // The UART's wants_input hook: room came, so the fd is waited on again.
    void wants_input() const;

private:
    SerialInput(int fd, std::unique_ptr<IoThread> io) : fd_(fd), io_(std::move(io)) {}
    void on_io();

    int fd_;
    Serial* serial_ = nullptr;
    std::atomic<bool> ended_{false};
    std::unique_ptr<IoThread> io_;
};

}  // namespace hutch::microvm
