// The signals a container's caller sends it, taken over for the process in the VM: blocked and
// read from a signalfd while a SignalForwarding lives (host_relay.h sends them on).
#pragma once

#include <signal.h>

#include <utility>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm::host {

// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 (and SIGWINCH, with a terminal). The
// calling thread's mask is restored when it goes, after a signal that came meanwhile (and so was
// forwarded) is taken off.
class SignalForwarding {
public:
    static ErrorOr<SignalForwarding> start(bool terminal);
    SignalForwarding(SignalForwarding&& other) noexcept
        : fd_(std::move(other.fd_)),
          old_mask_(other.old_mask_),
          active_(std::exchange(other.active_, false)) {}
    SignalForwarding& operator=(SignalForwarding&&) = delete;
    ~SignalForwarding();
    int fd() const { return fd_.get(); }

private:
    SignalForwarding() = default;
    UniqueFd fd_;
    sigset_t old_mask_{};
    bool active_ = false;
};

}  // namespace hutch::microvm::host
