// A process of the container in the guest, forked by the agent: it joins the container's cgroup,
// gets its namespaces, its stdio (pipes, or a pty of its own), its rlimits, user, capabilities and seccomp
// filter (guest_security.h), and execs. The first process and every exec start here.
#pragma once

#include <sys/types.h>

#include "base/error.h"
#include "base/fd.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

// With a terminal, stdin_w and stdout_r are the pty's master (two fds of it: stdin_w closes when
// the host's stdin ends, stdout_r at the pty's end), and there is no stderr_r.
struct Child {
    pid_t pid = -1;
    UniqueFd stdin_w, stdout_r, stderr_r;
    bool terminal = false;
};

// Where a process of the container starts: in the cgroup whose cgroup.procs is cgroup_procs_fd,
// and in the container's namespaces (CLONE_NEW* flags, guest_namespaces.h): made for the first
// process, joined for an exec (those of first_process).
struct Placement {
    int cgroup_procs_fd = -1;
    unsigned long namespaces = 0;
    pid_t first_process = 0;  // 0: this is the first process
};

// Forks and execs config's process in the current root, as placement says; returns once the exec
// succeeded, or with why it failed. The agent's ends of its stdio are non-blocking.
ErrorOr<Child> spawn(const GuestConfig& config, const Placement& placement);

// A wait status as the host reports it: the exit code, or 128+N for signal N.
int status_of(int wait_status);

}  // namespace hutch::microvm::agent
