// Starting an `exec` process: one clone3(), born in the container's cgroup (v2) and pid
// namespace, that joins the container's other namespaces through its pidfd with a single setns(),
// sets itself up as the first process was, and execs. There is no start phase: the parent learns
// that the program runs when the child's end of the sync channel closes on exec.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "cgroups/manager.h"
#include "runtime/process_setup.h"
#include "spec/spec.h"

namespace hutch::runtime {

struct ExecTarget {
    int container_pidfd = -1;  // the container's first process: its namespaces are joined
    int namespace_flags = 0;   // CLONE_NEW* of every namespace config.json lists, new or joined
    // Without a mount namespace of its own, the container's root (its first process's
    // /proc/PID/root), which the process chroots into: joining namespaces does not reach it.
    int root_fd = -1;
    cgroups::Manager* cgroups = nullptr;
    std::string sub_cgroup;  // --cgroup
    // With SCMP_ACT_NOTIFY: where the listener fd goes, and the container's state sent with it.
    const spec::Seccomp* seccomp = nullptr;
    nlohmann::ordered_json state;
};

struct ExecLaunched {
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd pty_master;  // with process.terminal
};

// Returns once the program runs, or why it could not; the child is then reaped.
ErrorOr<ExecLaunched> launch_exec(const spec::Process& process, ProcessPlan& plan, const ExecTarget& target);

}  // namespace hutch::runtime
