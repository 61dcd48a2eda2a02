// The host's end of a running microVM: relays the caller's stdio and signals to the agent, and
// waits for the process's exit status (microvm/agent/protocol.h).
#pragma once

#include "base/error.h"
#include "base/fd.h"
#include "microvm/host/vmm_process.h"

namespace hutch::microvm::host {

struct HostEnds {
    int control = -1;         // the agent's control port
    UniqueFd stdin_port;      // its stdin port; shut down when the caller's stdin ends
    int console = -1;         // the serial console and the VMM's own output
    int signals = -1;         // a signalfd of the signals to forward (and SIGWINCH, with a terminal)
    bool relay_stdin = true;  // false: the process gets an empty stdin, not the caller's
    bool terminal = false;    // the process has a pty: SIGWINCH sends it the caller's terminal's size
};

// Relays until the agent reports: the exit status, or an error (the agent's failure, the VM's
// death, with the end of the console's output, or no process started within boot_timeout_ms).
ErrorOr<int> relay_until_exit(HostEnds ends, VmmProcess& vmm, int boot_timeout_ms);

}  // namespace hutch::microvm::host
