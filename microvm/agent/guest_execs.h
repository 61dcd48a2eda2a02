// The execs of the running container (hutch-oci exec; protocol.h's exec frames): each a process
// the agent starts as it started the first one (guest_spawn.h), in the same root and cgroup, with
// its own stdio relayed over the control port under its number. Driven by the first process's
// poll loop (guest_process.cpp), which owns the port: frames for the host go to `out`, which it
// writes.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "microvm/agent/guest_spawn.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

class Execs {
public:
    // Each exec starts as placement says: in the first process's cgroup and namespaces.
    explicit Execs(const Placement& placement) : placement_(placement) {}

    // An exec frame from the host. A process that cannot start is an exec failure frame, not an
    // error: only a frame that cannot be read is.
    ErrorOr<void> handle(const Frame& frame, std::string& out);

    // Appends the fds to poll: a stdin with bytes waiting, and the outputs when want_output.
    void add_poll_fds(std::vector<pollfd>& fds, bool want_output);
    // After the poll: the events on the fds added from `first` on.
    void on_events(const std::vector<pollfd>& fds, size_t first, std::string& out);

    // A reaped child: when it was an exec's, its last output and its exit frame go to out.
    bool reaped(pid_t pid, int wait_status, std::string& out);

private:
    struct Exec {
        Child child;
        std::string stdin_pending;
        bool stdin_ended = false;  // the host's stdin ended: close the process's once written
    };
    enum class Polled { stdin, stdout, stderr };

    void start(uint32_t id, std::string_view config, std::string& out);
    void add_stdin(Exec& exec, std::string_view bytes);
    void write_stdin(Exec& exec);
    static void forward_output(uint32_t id, UniqueFd& pipe, FrameKind kind, std::string& out);

    Placement placement_;
    std::map<uint32_t, Exec> execs_;
    std::vector<std::pair<uint32_t, Polled>> polled_;  // what each fd add_poll_fds added is
};

// One read of an output pipe (or a pty's master): what it held, or nothing when it holds nothing
// now or ended (then it is closed).
std::optional<std::string> read_output(UniqueFd& pipe);

}  // namespace hutch::microvm::agent
