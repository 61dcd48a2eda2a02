// The container relay's side of hutch-oci's execs (exec_socket.h): each exec's relay connects to
// the container's exec socket and speaks the agent's exec frames (protocol.h), with any number;
// this numbers each connection's exec itself and passes the frames between it and the agent, so
// that the agent sees every exec of the container on its one control port.
//
// A connection's frames: exec start first and once, then exec stdin, exec signal and exec window
// size; or one update (hutch-oci update's limits); anything else drops it. It gets the agent's
// frames of its exec: exec started, output, and exec exit or exec failure, after which it is
// closed. A connection that goes before its exec
// ends has its exec's stdin ended; the process goes on, as runc's exec does without its caller.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::host {

class ExecMux {
public:
    // listener: the exec socket; control: the agent's control port, written blocking.
    ExecMux(int listener, int control) : listener_(listener), control_(control) {}

    // Appends the fds to poll: the listener when accepting (once the agent is prepared),
    // each connection's reads, and its writes while it has frames waiting.
    void add_poll_fds(std::vector<pollfd>& fds, bool accepting);
    // After the poll: the events on the fds added from `first` on.
    ErrorOr<void> on_events(const std::vector<pollfd>& fds, size_t first);

    // An exec frame from the agent, for its connection (dropped when it is gone).
    ErrorOr<void> deliver(const Frame& frame);

    // Bytes waiting for connections that do not read them: the relay stops reading the agent
    // beyond a bound, as for the first process's output.
    size_t held() const;

private:
    struct Connection {
        UniqueFd fd;
        FrameReader reader;
        std::string out;
        bool started = false;  // sent its exec start
        bool ended = false;    // its exec ended: closed once out is written
    };
    enum class Polled { listener, read, write };

    void accept_connection();
    // False when the connection is to be dropped.
    ErrorOr<bool> read_connection(uint32_t exec, Connection& connection);
    ErrorOr<bool> forward(uint32_t exec, Connection& connection, const Frame& frame);
    void write_connection(Connection& connection);
    ErrorOr<void> drop(uint32_t exec);

    int listener_, control_;
    uint32_t next_exec_ = 1;
    std::map<uint32_t, Connection> connections_;  // by their exec's number
    std::vector<std::pair<uint32_t, Polled>> polled_;
};

}  // namespace hutch::microvm::host
