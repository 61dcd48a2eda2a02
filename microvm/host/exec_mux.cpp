#include "microvm/host/exec_mux.h"

#include <sys/socket.h>
#include <unistd.h>

#include "base/file.h"

namespace hutch::microvm::host {
void ExecMux::add_poll_fds(std::vector<pollfd>& fds, bool accepting) {
    polled_.clear();
    if (accepting) {
        fds.push_back({listener_, POLLIN, 0});
        polled_.emplace_back(0, Polled::listener);
    }
    for (auto& [exec, connection] : connections_) {
        if (!connection.ended) {
            fds.push_back({connection.fd.get(), POLLIN, 0});
            polled_.emplace_back(exec, Polled::read);
        }
        if (!connection.out.empty()) {
            fds.push_back({connection.fd.get(), POLLOUT, 0});
            polled_.emplace_back(exec, Polled::write);
        }
    }
}

ErrorOr<void> ExecMux::on_events(const std::vector<pollfd>& fds, size_t first) {
    auto polled = std::move(polled_);
    polled_.clear();
    for (size_t i = 0; i < polled.size(); ++i) {
        if (!fds[first + i].revents) continue;
        auto [exec, what] = polled[i];
        if (what == Polled::listener) {
            accept_connection();
            continue;
        }
        auto it = connections_.find(exec);
        if (it == connections_.end()) continue;
        Connection& connection = it->second;
        if (what == Polled::write) write_connection(connection);
        if (what == Polled::read && !TRY(read_connection(exec, connection))) {
            TRY(drop(exec));
            continue;
        }
        if (connection.ended && connection.out.empty()) connections_.erase(exec);
    }
    return {};
}

void ExecMux::accept_connection() {
    UniqueFd fd(::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;  // gone before it was taken: nothing to answer
    Connection connection;
    connection.fd = std::move(fd);
    connections_.emplace(next_exec_++, std::move(connection));
}

ErrorOr<bool> ExecMux::read_connection(uint32_t exec, Connection& connection) {
    char buf[65536];
    ssize_t n = ::read(connection.fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    connection.reader.feed({buf, static_cast<size_t>(n)});
    for (;;) {
        auto frame = connection.reader.next();
        if (!frame) return false;  // not frames: nothing more of it can be trusted
        if (!*frame) return true;
        if (!TRY(forward(exec, connection, **frame))) return false;
    }
}

// To the agent, numbered as this connection's exec.
ErrorOr<bool> ExecMux::forward(uint32_t exec, Connection& connection, const Frame& frame) {
    if (!is_host_exec_frame(frame.kind) || opens_exec(frame.kind) == connection.started) return false;
    auto payload = parse_exec_payload(frame.payload);
    if (!payload) return false;
    connection.started = true;
    TRY_CTX(write_all(control_, encode_exec_frame(frame.kind, exec, payload->data)),
            "pass an exec's frame to the VM");
    return true;
}

void ExecMux::write_connection(Connection& connection) {
    ssize_t n = ::send(connection.fd.get(), connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
        // The exec's relay is gone: what was for it goes nowhere.
        connection.out.clear();
        return;
    }
    connection.out.erase(0, static_cast<size_t>(n));
}

// The connection is gone or misbehaved: its exec's stdin ends, and nothing more reaches it.
ErrorOr<void> ExecMux::drop(uint32_t exec) {
    auto it = connections_.find(exec);
    bool started = it != connections_.end() && it->second.started && !it->second.ended;
    connections_.erase(exec);
    if (started)
        TRY_CTX(write_all(control_, encode_exec_frame(FrameKind::exec_stdin, exec, "")),
                "end an exec's stdin");
    return {};
}

ErrorOr<void> ExecMux::deliver(const Frame& frame) {
    auto payload = TRY(parse_exec_payload(frame.payload));
    auto it = connections_.find(payload.exec);
    if (it == connections_.end()) return {};
    Connection& connection = it->second;
    connection.out += encode_frame(frame.kind, frame.payload);
    if (frame.kind == FrameKind::exec_exit || frame.kind == FrameKind::exec_failure) connection.ended = true;
    return {};
}

size_t ExecMux::held() const {
    size_t bytes = 0;
    for (const auto& [exec, connection] : connections_) bytes += connection.out.size();
    return bytes;
}

}  // namespace hutch::microvm::host
