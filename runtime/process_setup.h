// What every process hutch starts inside a container goes through before execve: the first one
// (launch.cpp) and each one `exec` adds (exec_launch.cpp). The parent prepares a ProcessPlan
// before the clone, where bad input is a clean error; the cloned child only applies it, never
// throws, and reports failure as ErrorOr.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/error.h"
#include "runtime/security.h"
#include "runtime/sync_channel.h"
#include "spec/spec.h"

namespace hutch::runtime {

// The fds 3 .. 3+N-1 that reach the program: first those of socket activation, then the
// --preserve-fds ones.
struct PassedFds {
    int listen = 0;    // LISTEN_FDS: the program is told of them (LISTEN_FDS, LISTEN_PID)
    int preserve = 0;  // --preserve-fds
};

struct ProcessPlan {
    std::optional<security::SeccompFilter> seccomp;
    security::CapabilityPlan capabilities;
    security::RlimitPlan rlimits;
    PassedFds fds;
    std::optional<spec::Personality> personality;
    std::optional<spec::MemoryPolicy> memory_policy;
    std::string exec_label;  // process.selinuxLabel where SELinux is enabled, else empty
};

// other_user_namespace: the process will live in a user namespace other than hutch's, where it
// holds every capability; otherwise it can only keep the capabilities hutch has.
ErrorOr<ProcessPlan> prepare_process_plan(const spec::Process& process,
                                          const std::optional<spec::Linux>& linux_, PassedFds fds,
                                          bool other_user_namespace);

// Socket activation, as runc and crun take it: systemd passed hutch-oci LISTEN_FDS fds from 3 (and
// LISTEN_PID, when set, names hutch-oci). They go on to the container's process. 0 without them.
int socket_activation_fds();

// The environment execve gets: process.env, plus HOME from the container's /etc/passwd (or "/")
// when it sets none, as runc does, plus LISTEN_FDS and LISTEN_PID (the process's own pid, as it
// sees it) with socket activation. Runs in the child, inside the container's root.
std::vector<std::string> process_environment(const spec::Process& process, const ProcessPlan& plan);

// CVE-2019-5736: until it execs the container's program, the process is hutch-oci, and a
// container process that could open /proc/PID/exe could overwrite the runtime. A non-dumpable
// process's /proc/PID entries are out of reach to anyone without CAP_SYS_PTRACE over the host;
// execve makes the process dumpable again.
ErrorOr<void> make_non_dumpable();

// hutch installs no signal handlers, so exec resets none: only the mask (blocked by `run` and
// `exec` for their signalfd) must be cleared. Signals the caller ignores stay ignored, as with runc.
ErrorOr<void> unblock_signals();

// process.consoleSize, when given, as the terminal's size.
void apply_console_size(int terminal, const spec::Process& process);

// Opens a pty in the container's devpts, makes it the controlling terminal and stdio (owned by
// the process's user), and sends the master side to the parent.
ErrorOr<void> set_up_terminal(const spec::Process& process, const SyncChannel& channel);

// The program to exec, found in the container's PATH as execvp would, checked before the parent is
// told the process is ready so that a missing program fails `create` and `exec`, as in runc.
ErrorOr<std::string> find_program(const spec::Process& process);

// chdir to process.cwd.
ErrorOr<void> change_directory(const std::string& cwd);

// Marks every fd but stdio and the passed ones close-on-exec (CVE-2024-21626: no fd of the
// runtime or its caller reaches the container). Checked, and run before any seccomp filter that
// might answer close_range with an error.
ErrorOr<void> close_inherited_fds(PassedFds fds);

// With SCMP_ACT_NOTIFY rules: loads the filter now, while the parent still listens (create and
// exec wait for the process to be ready), and sends the listener fd on the channel for the
// parent to hand to the seccomp agent. From here on the process's own syscalls pass the filter,
// as with runc. The plan's filter is then spent, so become_process() does not load it again.
ErrorOr<void> load_notifying_filter(ProcessPlan& plan, const SyncChannel& channel);

// Drops privileges in the order that keeps each step possible (security.h), runs
// after_privileges (the startContainer hooks, which run as the process will), loads seccomp as
// late as the kernel allows, and execs. Returns only on failure.
ErrorOr<void> become_process(const spec::Process& process, const ProcessPlan& plan,
                             const std::string& program,
                             const std::function<ErrorOr<void>()>& after_privileges = {});

}  // namespace hutch::runtime
