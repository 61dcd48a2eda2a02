#include "runtime/net_devices.h"

#include <fcntl.h>
#include <poll.h>

#include "base/log.h"
#include "namespaces/net_devices.h"
#include "runtime/create_internal.h"

namespace hutch::runtime {
namespace {

UniqueFd open_netns_of(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

// The container's network namespace: the one it joined by path, which outlives its process, or
// its process's while that is still the one hutch started. The pidfd is polled after the open: a
// process still alive then is the one whose namespace was opened, not a later one with its pid.
UniqueFd open_container_netns(const ContainerState& state) {
    if (!state.net_namespace_path.empty())
        return UniqueFd(::open(state.net_namespace_path.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd pidfd = open_container_pidfd(state);
    if (!pidfd) return {};
    UniqueFd netns = open_netns_of(state.pid);
    struct pollfd exited = {pidfd.get(), POLLIN, 0};
    if (::poll(&exited, 1, 0) != 0) return {};
    return netns;
}

}  // namespace

ErrorOr<UniqueFd> move_net_devices_in(const spec::Spec& spec, Container& container, pid_t pid) {
    if (!spec.linux_ || spec.linux_->net_devices.empty()) return UniqueFd{};
    UniqueFd netns = open_netns_of(pid);
    if (!netns)
        return fail_errno("linux.netDevices: open the network namespace of process " + std::to_string(pid));
    container.state.net_devices = TRY(namespaces::move_net_devices_in(spec.linux_->net_devices, netns.get()));
    TRY(container.save());
    return netns;
}

void move_net_devices_out(const ContainerState& state, int held_netns) {
    if (state.net_devices.empty()) return;
    // None: the namespace went with its last process, and the kernel destroyed the virtual
    // interfaces in it and gave the physical ones to the host's first namespace.
    UniqueFd netns = held_netns >= 0 ? UniqueFd{} : open_container_netns(state);
    if (held_netns < 0 && !netns) return;
    auto moved =
        namespaces::move_net_devices_out(state.net_devices, held_netns >= 0 ? held_netns : netns.get());
    if (!moved) log::warn("container " + state.id + ": " + moved.error().message);
}

}  // namespace hutch::runtime
