// SCMP_ACT_NOTIFY: the filter's listener fd goes to the seccomp agent listening at
// linux.seccomp.listenerPath, with the runtime-spec's "container process state" (as runc sends it),
// and the agent then answers the notified syscalls on the container's behalf.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::runtime {

// The message that goes with the fd: {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}.
nlohmann::ordered_json listener_message(const spec::Seccomp& seccomp, const nlohmann::ordered_json& state,
                                        pid_t pid);

ErrorOr<void> send_to_seccomp_listener(const spec::Seccomp& seccomp, const nlohmann::ordered_json& state,
                                       pid_t pid, int listener_fd);

}  // namespace hutch::runtime
