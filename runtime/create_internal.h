// Shared by create and run: what creating a container leaves in hand.
#pragma once

#include <memory>
#include <optional>

#include "cgroups/manager.h"
#include "runtime/launch.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

struct Created {
    Launched launched;  // with the container's cgroups
    spec::Spec spec;
    std::optional<Container> container;  // still locked
};

// What `run` does differently from `create`.
struct RunCreate {
    bool keep_terminal = false;     // in the foreground: keeps the pty master when there is no socket
    bool start_on_channel = false;  // started right away by this process, so no exec.fifo
};

ErrorOr<Created> create_container(const CreateOptions& options, RunCreate run = {});

// Releases a created container's process through exec.fifo and runs the poststart hooks (their
// failure is only logged, as the runtime-spec says).
ErrorOr<void> start_created(Container& container, int pidfd);
// The same for the process this command just launched: on the launch's channel if it kept one.
ErrorOr<void> start_created(Container& container, const Launched& launched);

// Kills what is left, removes the cgroups, runs poststop hooks and removes the state directory.
// held_netns: the container's network namespace, held open by `run` (Launched::netns).
ErrorOr<void> destroy_container(Container& container, int held_netns = -1);

// pidfd of the container's process if it is still the one we started, else an invalid fd.
UniqueFd open_container_pidfd(const ContainerState& state);

}  // namespace hutch::runtime
