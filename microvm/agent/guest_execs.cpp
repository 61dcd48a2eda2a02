#include "microvm/agent/guest_execs.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "microvm/agent/guest_terminal.h"

namespace hutch::microvm::agent {
namespace {

// What an exec's stdin may hold in the guest for a process that does not read it; beyond it the
// rest is dropped and its stdin closed, so that no host can fill the guest's memory.
constexpr size_t stdin_held_max = 4 << 20;

}  // namespace

std::optional<std::string> read_output(UniqueFd& pipe) {
    if (!pipe) return std::nullopt;
    char buf[65536];
    ssize_t n = ::read(pipe.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return std::nullopt;
    if (n <= 0) {
        pipe.reset();
        return std::nullopt;
    }
    return std::string(buf, static_cast<size_t>(n));
}

ErrorOr<void> Execs::handle(const Frame& frame, std::string& out) {
    auto [id, data] = TRY(parse_exec_payload(frame.payload));
    if (frame.kind == FrameKind::exec_start) {
        start(id, data, out);
        return {};
    }
    auto it = execs_.find(id);
    if (it == execs_.end()) return {};  // gone already: what was meant for it has no one to reach
    Exec& exec = it->second;
    if (frame.kind == FrameKind::exec_stdin) {
        add_stdin(exec, data);
    } else if (frame.kind == FrameKind::exec_signal) {
        int sig = TRY(parse_int_payload(data));
        if (sig > 0 && sig < NSIG) ::kill(exec.child.pid, sig);
    } else if (frame.kind == FrameKind::exec_window_size && exec.child.terminal && exec.child.stdout_r) {
        set_window_size(exec.child.stdout_r.get(), TRY(parse_window_size_payload(data)));
    }
    return {};
}

void Execs::start(uint32_t id, std::string_view config_text, std::string& out) {
    auto config = parse_guest_config(config_text);
    auto child = config ? spawn(*config, placement_) : std::unexpected(config.error());
    if (!child || execs_.contains(id)) {
        if (child) ::kill(child->pid, SIGKILL);  // reaped by the loop; reported as nobody's
        std::string why =
            child ? "exec " + std::to_string(id) + " is running already" : child.error().message;
        out += encode_exec_frame(FrameKind::exec_failure, id, why);
        return;
    }
    Exec exec;
    exec.child = std::move(*child);
    execs_.emplace(id, std::move(exec));
    out += encode_exec_frame(FrameKind::exec_started, id, "");
}

void Execs::add_stdin(Exec& exec, std::string_view bytes) {
    if (!exec.child.stdin_w) return;
    if (bytes.empty()) {
        exec.stdin_ended = true;
        if (exec.stdin_pending.empty()) exec.child.stdin_w.reset();
        return;
    }
    if (exec.stdin_pending.size() + bytes.size() > stdin_held_max) {
        exec.stdin_pending.clear();
        exec.child.stdin_w.reset();
        return;
    }
    exec.stdin_pending.append(bytes);
}

void Execs::write_stdin(Exec& exec) {
    ssize_t n = ::write(exec.child.stdin_w.get(), exec.stdin_pending.data(), exec.stdin_pending.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
        // The process closed its stdin: the rest has nowhere to go.
        exec.stdin_pending.clear();
        exec.child.stdin_w.reset();
        return;
    }
    exec.stdin_pending.erase(0, static_cast<size_t>(n));
    if (exec.stdin_pending.empty() && exec.stdin_ended) exec.child.stdin_w.reset();
}

void Execs::add_poll_fds(std::vector<pollfd>& fds, bool want_output) {
    polled_.clear();
    for (auto& [id, exec] : execs_) {
        if (!exec.stdin_pending.empty() && exec.child.stdin_w) {
            fds.push_back({exec.child.stdin_w.get(), POLLOUT, 0});
            polled_.emplace_back(id, Polled::stdin);
        }
        if (!want_output) continue;
        if (exec.child.stdout_r) {
            fds.push_back({exec.child.stdout_r.get(), POLLIN, 0});
            polled_.emplace_back(id, Polled::stdout);
        }
        if (exec.child.stderr_r) {
            fds.push_back({exec.child.stderr_r.get(), POLLIN, 0});
            polled_.emplace_back(id, Polled::stderr);
        }
    }
}

void Execs::on_events(const std::vector<pollfd>& fds, size_t first, std::string& out) {
    for (size_t i = 0; i < polled_.size(); ++i) {
        if (!fds[first + i].revents) continue;
        auto [id, which] = polled_[i];
        auto it = execs_.find(id);
        if (it == execs_.end()) continue;
        Exec& exec = it->second;
        if (which == Polled::stdin) write_stdin(exec);
        if (which == Polled::stdout) forward_output(id, exec.child.stdout_r, FrameKind::exec_stdout, out);
        if (which == Polled::stderr) forward_output(id, exec.child.stderr_r, FrameKind::exec_stderr, out);
    }
    polled_.clear();
}

void Execs::forward_output(uint32_t id, UniqueFd& pipe, FrameKind kind, std::string& out) {
    if (auto bytes = read_output(pipe)) out += encode_exec_frame(kind, id, *bytes);
}

// Its output up to now goes first: the exit frame is the exec's last. A pipe that a process left
// behind still holds stops being read here.
bool Execs::reaped(pid_t pid, int wait_status, std::string& out) {
    auto it = std::ranges::find_if(execs_, [&](const auto& entry) { return entry.second.child.pid == pid; });
    if (it == execs_.end()) return false;
    auto& [id, exec] = *it;
    for (auto* pipe : {&exec.child.stdout_r, &exec.child.stderr_r}) {
        FrameKind kind = pipe == &exec.child.stdout_r ? FrameKind::exec_stdout : FrameKind::exec_stderr;
        while (auto bytes = read_output(*pipe)) out += encode_exec_frame(kind, id, *bytes);
    }
    out += encode_exec_frame(FrameKind::exec_exit, id, int_payload(status_of(wait_status)));
    execs_.erase(it);
    polled_.clear();
    return true;
}

}  // namespace hutch::microvm::agent
