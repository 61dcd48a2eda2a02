// The unix socket through which hutch-oci's execs reach a running microVM container: exec.sock in
// its state directory, served by the container's relay (exec_mux.h), connected to by each exec's
// relay (exec_relay.h). Reached through the directory's fd (/proc/self/fd/N/exec.sock), since a
// state directory's path may be longer than a socket address holds.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::microvm::host {

// Listens on exec.sock in state_dir (mode 0600; a stale one is replaced) and unlinks it when it goes.
class ExecListener {
public:
    static ErrorOr<ExecListener> listen(const std::string& state_dir);
    ExecListener(ExecListener&&) = default;
    ExecListener& operator=(ExecListener&&) = default;
    ~ExecListener();
    int fd() const { return fd_.get(); }

private:
    ExecListener() = default;
    UniqueFd fd_;
    std::string path_;
};

// Connects to the exec socket of the container whose state directory is state_dir.
ErrorOr<UniqueFd> connect_exec_socket(const std::string& state_dir);

}  // namespace hutch::microvm::host
