// The host's end of a running microVM: waits for the agent to be prepared, says go, then relays
// the caller's stdio and signals to the agent and waits for the process's exit status
// (microvm/agent/protocol.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"
#include "microvm/host/exec_mux.h"
#include "microvm/host/vmm_process.h"

namespace hutch::microvm::host {

struct HostEnds {
    int control = -1;         // the agent's control port
    UniqueFd stdin_port;      // its stdin port; shut down when the caller's stdin ends
    int console = -1;         // the serial console and the VMM's own output
    bool relay_stdin = true;  // false: the process gets an empty stdin, not the caller's
    bool terminal = false;    // the process has a pty: SIGWINCH sends it the caller's terminal's size
    int exec_listener = -1;   // the exec socket (exec_mux.h), served once the VM is prepared; -1: none
};

class HostRelay {
public:
    // boot_timeout_ms bounds the boot up to prepared, and again go up to the process's start.
    HostRelay(HostEnds ends, VmmProcess& vmm, int boot_timeout_ms);

    // Until the agent is prepared (the boot is over, the process's root mounted); the caller's
    // stdin is not read yet. An error: the agent's failure, the VM's death (with the end of the
    // console's output), or not prepared within the boot's time.
    ErrorOr<void> wait_until_prepared();

    // Until wake (a descriptor) turns readable, with the VM prepared: meanwhile the exec socket's
    // requests about the created container (an update, its counters, its processes) are answered.
    ErrorOr<void> serve_until(int wake);

    // Says go (with a terminal, first its size), then relays until the process's exit status.
    // signals: a signalfd of the signals to forward (and SIGWINCH, with a terminal).
    ErrorOr<int> start(int signals);

private:
    ErrorOr<void> step();
    int poll_timeout_ms() const;
    ErrorOr<void> boot_timed_out();
    void drain_console();
    void read_caller_stdin();
    void write_stdin_port();
    void end_stdin_port();
    ErrorOr<bool> read_control_once();
    ErrorOr<void> read_control();
    ErrorOr<void> handle(const Frame& frame);
    void read_console();
    void keep_console_tail(std::string_view bytes);
    std::string console_line() const;
    ErrorOr<void> forward_signals();
    std::string window_size_frame() const;
    ErrorOr<void> vm_died();

    HostEnds ends_;
    VmmProcess& vmm_;
    int boot_timeout_ms_;
    int signals_ = -1;
    int wake_ = -1;  // serve_until's
    FrameReader reader_;
    std::string stdin_pending_, console_tail_, held_stdout_, held_stderr_;
    bool caller_stdin_open_ = true, control_closed_ = false, console_closed_ = false, show_console_ = false;
    bool prepared_ = false, go_sent_ = false, started_ = false, woken_ = false;
    std::optional<int> status_;
    std::optional<ExecMux> execs_;
    // The boot's, then go's: the time the agent has to say prepared, then started.
    std::chrono::steady_clock::time_point deadline_;
};

}  // namespace hutch::microvm::host
