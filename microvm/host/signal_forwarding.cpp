#include "microvm/host/signal_forwarding.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace hutch::microvm::host {

namespace {
constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
}

ErrorOr<SignalForwarding> SignalForwarding::start(bool terminal) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : forwarded_signals) sigaddset(&set, sig);
    // The relay resizes the process's terminal.
    if (terminal) sigaddset(&set, SIGWINCH);
    SignalForwarding forwarding;
    if (::pthread_sigmask(SIG_BLOCK, &set, &forwarding.old_mask_) != 0) return fail("block signals");
    forwarding.active_ = true;
    forwarding.fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!forwarding.fd_) return fail_errno("signalfd");
    return forwarding;
}

SignalForwarding::~SignalForwarding() {
    if (!active_) return;
    signalfd_siginfo info;
    while (::read(fd_.get(), &info, sizeof info) == sizeof info) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace hutch::microvm::host
