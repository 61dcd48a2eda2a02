#include "microvm/host/host_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <vector>

#include "base/file.h"
#include "base/terminal.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

namespace {

// What of the console is kept to explain a VM that died: its last lines.
constexpr size_t console_tail_size = 4096;

// The process's output held for a caller that does not read it yet; beyond it the control port
// waits (and so does the agent's output, not its reading of signals).
constexpr size_t output_held_max = 1 << 20;

// Written to the caller in pieces no larger: POLLOUT on a pipe promises one page, and a larger
// write to a blocking pipe could block.
constexpr size_t caller_write_size = 4096;

// The caller's stdout or stderr closed is no reason to stop the container: its output is
// dropped then.
void write_held(int fd, std::string& held) {
    ssize_t n = ::write(fd, held.data(), std::min(held.size(), caller_write_size));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
        held.clear();
        return;
    }
    held.erase(0, static_cast<size_t>(n));
}

}  // namespace

HostRelay::HostRelay(HostEnds ends, VmmProcess& vmm, int boot_timeout_ms)
    : ends_(std::move(ends)),
      vmm_(vmm),
      boot_timeout_ms_(boot_timeout_ms),
      deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(boot_timeout_ms)) {
    ::fcntl(ends_.stdin_port.get(), F_SETFL, O_NONBLOCK);
    show_console_ = std::getenv("HUTCH_VM_CONSOLE") != nullptr;
    if (ends_.exec_listener >= 0) execs_.emplace(ends_.exec_listener, ends_.control);
    if (!ends_.relay_stdin) {
        caller_stdin_open_ = false;
        end_stdin_port();
    }
}

ErrorOr<void> HostRelay::wait_until_prepared() {
    while (!prepared_) TRY(step());
    return {};
}

ErrorOr<void> HostRelay::serve_until(int wake) {
    TRY(wait_until_prepared());
    wake_ = wake;
    woken_ = false;
    while (!woken_) TRY(step());
    wake_ = -1;
    return {};
}

ErrorOr<int> HostRelay::start(int signals) {
    TRY(wait_until_prepared());
    signals_ = signals;
    // The terminal's size now, not at the boot: hutch-oci's client sets it between create and start.
    std::string frames = window_size_frame() + encode_frame(FrameKind::go, "");
    TRY_CTX(write_all(ends_.control, frames), "tell the VM to start the process");
    go_sent_ = true;
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(boot_timeout_ms_);
    while (!status_) TRY(step());
    // The process is gone: the rest of its output goes out as the caller takes it.
    (void)write_all(STDOUT_FILENO, held_stdout_);
    (void)write_all(STDERR_FILENO, held_stderr_);
    return *status_;
}

ErrorOr<void> HostRelay::step() {
    // The caller's stdin is the process's: not read before go (hutch-oci's start).
    bool want_stdin = go_sent_ && caller_stdin_open_ && stdin_pending_.empty();
    size_t held = held_stdout_.size() + held_stderr_.size() + (execs_ ? execs_->held() : 0);
    bool want_control = !control_closed_ && held < output_held_max;
    std::vector<pollfd> fds = {
        {want_stdin ? STDIN_FILENO : -1, POLLIN, 0},
        {stdin_pending_.empty() ? -1 : ends_.stdin_port.get(), POLLOUT, 0},
        {want_control ? ends_.control : -1, POLLIN, 0},
        {console_closed_ ? -1 : ends_.console, POLLIN, 0},
        // Held (pending in the signalfd) until the process runs: the agent reads signal frames
        // only once it has started it, and would leave one that came with the config unread.
        {started_ ? signals_ : -1, POLLIN, 0},
        {vmm_.pidfd(), POLLIN, 0},
        {held_stdout_.empty() ? -1 : STDOUT_FILENO, POLLOUT, 0},
        {held_stderr_.empty() ? -1 : STDERR_FILENO, POLLOUT, 0},
        {wake_, POLLIN, 0},
    };
    size_t first_exec = fds.size();
    // From prepared on: the agent answers a created container's requests, and refuses its execs.
    if (execs_) execs_->add_poll_fds(fds, prepared_);
    int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (ready < 0) {
        if (errno == EINTR) return {};
        return fail_errno("poll");
    }
    if (ready == 0 && !started_) return boot_timed_out();
    if (fds[0].revents) read_caller_stdin();
    if (fds[1].revents) write_stdin_port();
    if (fds[2].revents) TRY(read_control());
    if (fds[3].revents) read_console();
    if (fds[4].revents) TRY(forward_signals());
    if (fds[6].revents) write_held(STDOUT_FILENO, held_stdout_);
    if (fds[7].revents) write_held(STDERR_FILENO, held_stderr_);
    if (fds[8].revents) woken_ = true;
    if (execs_) TRY(execs_->on_events(fds, first_exec));
    if (fds[5].revents && !status_) return vm_died();
    return {};
}

// Until the process started, the boot's deadline or go's; none before go (hutch-oci's start may
// come any time) or once it started.
int HostRelay::poll_timeout_ms() const {
    if (started_ || (prepared_ && !go_sent_)) return -1;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

ErrorOr<void> HostRelay::boot_timed_out() {
    vmm_.kill();
    drain_console();
    return fail(std::string(prepared_ ? "the VM did not start the process in time"
                                      : "the VM did not boot in time (a hung boot?)") +
                "; its console: " + console_line());
}

void HostRelay::drain_console() {
    ::fcntl(ends_.console, F_SETFL, O_NONBLOCK);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(ends_.console, buf, sizeof buf)) > 0) keep_console_tail({buf, static_cast<size_t>(n)});
}

void HostRelay::keep_console_tail(std::string_view bytes) {
    console_tail_.append(bytes);
    if (console_tail_.size() > console_tail_size)
        console_tail_.erase(0, console_tail_.size() - console_tail_size);
}

void HostRelay::read_caller_stdin() {
    char buf[65536];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        // End of the caller's stdin (or none at all): the agent sees the port close.
        caller_stdin_open_ = false;
        if (stdin_pending_.empty()) end_stdin_port();
        return;
    }
    stdin_pending_.assign(buf, static_cast<size_t>(n));
}

void HostRelay::write_stdin_port() {
    ssize_t n = ::send(ends_.stdin_port.get(), stdin_pending_.data(), stdin_pending_.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
        // The VMM is gone; its pidfd says so next.
        stdin_pending_.clear();
        caller_stdin_open_ = false;
        return;
    }
    stdin_pending_.erase(0, static_cast<size_t>(n));
    if (stdin_pending_.empty() && !caller_stdin_open_) end_stdin_port();
}

// A shutdown, not a close: QEMU drops a socket that hangs up (POLLHUP) with what it has not
// read yet, and it reads only once the agent opened the port. After a shutdown it reads the
// bytes, then the end of file, which the agent sees as the port closing.
void HostRelay::end_stdin_port() { ::shutdown(ends_.stdin_port.get(), SHUT_WR); }

// Reads what the control port holds; false at its end.
ErrorOr<bool> HostRelay::read_control_once() {
    char buf[65536];
    ssize_t n = ::read(ends_.control, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    reader_.feed({buf, static_cast<size_t>(n)});
    while (!status_) {
        auto frame = TRY(reader_.next());
        if (!frame) break;
        TRY(handle(*frame));
    }
    return true;
}

ErrorOr<void> HostRelay::read_control() {
    if (!TRY(read_control_once())) control_closed_ = true;
    return {};
}

ErrorOr<void> HostRelay::handle(const Frame& frame) {
    switch (frame.kind) {
        case FrameKind::prepared: prepared_ = true; break;
        case FrameKind::started: started_ = true; break;
        // Held until the caller's side polls writable, so that a caller not reading never
        // keeps a signal from the VM.
        case FrameKind::stdout_data: held_stdout_ += frame.payload; break;
        case FrameKind::stderr_data: held_stderr_ += frame.payload; break;
        case FrameKind::exit:
            status_ = TRY_CTX(parse_int_payload(frame.payload), "the agent's exit status");
            break;
        case FrameKind::failure: return fail("in the VM: " + frame.payload);
        case FrameKind::exec_started:
        case FrameKind::exec_stdout:
        case FrameKind::exec_stderr:
        case FrameKind::exec_exit:
        case FrameKind::exec_failure:
            if (execs_) TRY(execs_->deliver(frame));
            break;
        default: return fail("the agent sent a frame of a host's kind");
    }
    return {};
}

// The console's last lines as one, for an error's one line.
std::string HostRelay::console_line() const {
    std::string line = console_tail_;
    std::ranges::replace(line, '\r', ' ');
    std::ranges::replace(line, '\n', ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
}

void HostRelay::read_console() {
    char buf[4096];
    ssize_t n = ::read(ends_.console, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) console_closed_ = true;
    if (n <= 0) return;
    if (show_console_) (void)write_all(STDERR_FILENO, {buf, static_cast<size_t>(n)});
    keep_console_tail({buf, static_cast<size_t>(n)});
}

ErrorOr<void> HostRelay::forward_signals() {
    signalfd_siginfo info;
    while (::read(signals_, &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        std::string frame =
            sig == SIGWINCH ? window_size_frame() : encode_frame(FrameKind::signal, int_payload(sig));
        if (!frame.empty()) TRY_CTX(write_all(ends_.control, frame), "forward a signal to the VM");
    }
    return {};
}

// The caller's terminal was resized: so is the process's. Nothing when there is no terminal.
std::string HostRelay::window_size_frame() const {
    auto ws = caller_window_size();
    if (!ends_.terminal || !ws) return {};
    return encode_frame(FrameKind::window_size,
                        window_size_payload({.rows = ws->ws_row, .cols = ws->ws_col}));
}

// The VMM exited: what the agent sent before is still in the socket.
ErrorOr<void> HostRelay::vm_died() {
    while (!control_closed_ && !status_)
        if (!TRY(read_control_once())) control_closed_ = true;
    if (status_) return {};
    int vmm_status = vmm_.reap();
    drain_console();
    return fail(std::string(prepared_ ? "the VM stopped before the process's exit status came"
                                      : "the VM stopped during its boot") +
                " (the VMM's exit status " + std::to_string(vmm_status) +
                "); its console: " + console_line());
}

}  // namespace hutch::microvm::host
