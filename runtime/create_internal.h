// Shared by create and run: what creating a container leaves in hand.
#pragma once

#include <memory>
#include <optional>

#include "cgroups/manager.h"
#include "runtime/launch.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

struct Created {
    Launched launched;
    std::unique_ptr<cgroups::Manager> cgroups;
    spec::Spec spec;
    std::optional<Container> container;  // still locked
};

// keep_terminal: `run` in the foreground keeps the pty master itself when there is no socket.
ErrorOr<Created> create_container(const CreateOptions& options, bool keep_terminal);

// Releases a created container's process and runs the poststart hooks (their failure is only
// logged, as the runtime-spec says).
ErrorOr<void> start_created(Container& container, int pidfd);

// Kills what is left, removes the cgroups, runs poststop hooks and removes the state directory.
ErrorOr<void> destroy_container(Container& container);

// pidfd of the container's process if it is still the one we started, else an invalid fd.
UniqueFd open_container_pidfd(const ContainerState& state);

}  // namespace hutch::runtime
