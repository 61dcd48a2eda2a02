// The host process of one exec in a microVM container (hutch-vm-relay --exec, run by hutch-oci
// exec): the exec's pid as the client sees it. It connects to the container's exec socket
// (exec_socket.h), has the agent start the process, then relays its own stdin, stdout, stderr and
// signals to and from it, and exits with its status, as a linux container's exec process would.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

class ExecRelay {
public:
    // Connects, sends the process (its window size, with a terminal, is this process's stdin's)
    // and waits until the agent started it; an error says why it did not ("in the VM: exec sh: No
    // such file or directory").
    static ErrorOr<ExecRelay> start(const std::string& state_dir, GuestConfig process);

    // Relays until the exec's exit status (128+N for signal N). signal_fd: a signalfd of the
    // signals to forward (SignalForwarding), SIGWINCH sending the terminal's size. When the
    // container's first process ends first, its VM ends with every exec: 137, as for an exec of a
    // linux container whose pid namespace goes.
    ErrorOr<int> run(int signal_fd);

    bool terminal() const { return terminal_; }

private:
    explicit ExecRelay(UniqueFd socket, bool terminal) : socket_(std::move(socket)), terminal_(terminal) {}
    ErrorOr<Frame> next_frame();
    ErrorOr<void> step(int signal_fd);
    ErrorOr<void> read_stdin();
    ErrorOr<void> read_socket();
    ErrorOr<void> handle_read_frames();
    ErrorOr<void> handle(const Frame& frame);
    void forward_signals(int signal_fd);
    void send(FrameKind kind, std::string_view data);
    void send_window_size();

    UniqueFd socket_;
    bool terminal_;
    FrameReader reader_;
    std::string held_stdout_, held_stderr_;
    bool stdin_open_ = true, socket_closed_ = false;
    std::optional<int> status_;
};

}  // namespace hutch::microvm::host
