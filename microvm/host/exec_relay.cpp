#include "microvm/host/exec_relay.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "base/terminal.h"
#include "microvm/host/exec_socket.h"

namespace hutch::microvm::host {
namespace {

// Held for a caller that does not read the exec's output; beyond it the socket waits.
constexpr size_t output_held_max = 1 << 20;
// The exit status of an exec whose container's VM ended under it: SIGKILL's.
constexpr int killed_with_the_container = 128 + SIGKILL;

void write_some(int fd, std::string& held) {
    ssize_t n = ::write(fd, held.data(), std::min<size_t>(held.size(), 4096));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
        held.clear();  // the caller closed it: its output is dropped, the exec goes on
        return;
    }
    held.erase(0, static_cast<size_t>(n));
}

}  // namespace

ErrorOr<ExecRelay> ExecRelay::start(const std::string& state_dir, GuestConfig process) {
    if (process.terminal) {
        if (auto ws = caller_window_size()) process.window_size = {.rows = ws->ws_row, .cols = ws->ws_col};
    }
    ExecRelay relay(TRY(connect_exec_socket(state_dir)), process.terminal);
    TRY_CTX(write_all(relay.socket_.get(), encode_exec_frame(FrameKind::exec_start, 0, to_json(process))),
            "write the container's exec socket");
    Frame frame = TRY(relay.next_frame());
    if (frame.kind == FrameKind::exec_failure)
        return fail("in the VM: " + std::string(TRY(parse_exec_payload(frame.payload)).data));
    if (frame.kind != FrameKind::exec_started)
        return fail("the container's relay sent something else than started");
    return relay;
}

ErrorOr<Frame> ExecRelay::next_frame() {
    auto frame = TRY_CTX(read_frame(socket_.get(), reader_), "the container's exec socket");
    if (!frame) return fail("the container stopped");
    return std::move(*frame);
}

ErrorOr<int> ExecRelay::run(int signal_fd) {
    // start() may have read past the started frame: a short exec's output and exit are there.
    TRY(handle_read_frames());
    // The terminal's size once more: a resize before signal_fd was set up (podman's conmon sizes
    // the console as soon as it has it) came as no signal here.
    if (terminal_) send_window_size();
    while (!status_) TRY(step(signal_fd));
    (void)write_all(STDOUT_FILENO, held_stdout_);
    (void)write_all(STDERR_FILENO, held_stderr_);
    return *status_;
}

ErrorOr<void> ExecRelay::step(int signal_fd) {
    bool want_socket = !socket_closed_ && held_stdout_.size() + held_stderr_.size() < output_held_max;
    pollfd fds[] = {
        {stdin_open_ ? STDIN_FILENO : -1, POLLIN, 0},
        {want_socket ? socket_.get() : -1, POLLIN, 0},
        {signal_fd, POLLIN, 0},
        {held_stdout_.empty() ? -1 : STDOUT_FILENO, POLLOUT, 0},
        {held_stderr_.empty() ? -1 : STDERR_FILENO, POLLOUT, 0},
    };
    if (::poll(fds, std::size(fds), -1) < 0) return errno == EINTR ? ErrorOr<void>{} : fail_errno("poll");
    if (fds[0].revents) TRY(read_stdin());
    if (fds[1].revents) TRY(read_socket());
    if (fds[2].revents) forward_signals(signal_fd);
    if (fds[3].revents) write_some(STDOUT_FILENO, held_stdout_);
    if (fds[4].revents) write_some(STDERR_FILENO, held_stderr_);
    return {};
}

// Written blocking: the container's relay always reads its exec connections.
ErrorOr<void> ExecRelay::read_stdin() {
    char buf[65536];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return {};
    if (n <= 0) stdin_open_ = false;
    send(FrameKind::exec_stdin, {buf, static_cast<size_t>(std::max<ssize_t>(n, 0))});  // none: its end
    return {};
}

ErrorOr<void> ExecRelay::read_socket() {
    char buf[65536];
    ssize_t n = ::read(socket_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) return {};
    if (n <= 0) {
        socket_closed_ = true;
        status_ = killed_with_the_container;
        return {};
    }
    reader_.feed({buf, static_cast<size_t>(n)});
    return handle_read_frames();
}

ErrorOr<void> ExecRelay::handle_read_frames() {
    while (!status_) {
        auto frame = TRY(reader_.next());
        if (!frame) break;
        TRY(handle(*frame));
    }
    return {};
}

ErrorOr<void> ExecRelay::handle(const Frame& frame) {
    auto payload = TRY(parse_exec_payload(frame.payload));
    switch (frame.kind) {
        case FrameKind::exec_stdout: held_stdout_ += payload.data; break;
        case FrameKind::exec_stderr: held_stderr_ += payload.data; break;
        case FrameKind::exec_exit:
            status_ = TRY_CTX(parse_int_payload(payload.data), "the exec's exit status");
            break;
        default: return fail("the container's relay sent a frame out of place");
    }
    return {};
}

void ExecRelay::forward_signals(int signal_fd) {
    signalfd_siginfo info;
    while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig != SIGWINCH) {
            send(FrameKind::exec_signal, int_payload(sig));
        } else if (terminal_) {
            send_window_size();
        }
    }
}

void ExecRelay::send_window_size() {
    if (auto ws = caller_window_size())
        send(FrameKind::exec_window_size, window_size_payload({.rows = ws->ws_row, .cols = ws->ws_col}));
}

// The exec's number is the container relay's to give: 0 here. A write that fails is no error:
// the container's relay closes the connection once the exec ended (its exit frame may still be
// unread here), or when the container stopped; what is left to read says which.
void ExecRelay::send(FrameKind kind, std::string_view data) {
    (void)write_all(socket_.get(), encode_exec_frame(kind, 0, data));
}

}  // namespace hutch::microvm::host
