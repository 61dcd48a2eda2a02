// linux.netDevices: host interfaces moved into a container's network namespace and back, each with
// one rtnetlink request (RTM_NEWLINK with IFLA_NET_NS_FD and IFLA_IFNAME), as `ip link set DEV netns
// NS name NAME` makes it. The kernel drops an interface's addresses on the move; those given by
// hand, of global scope, are added again on the other side, as the runtime-spec asks.
#pragma once

#include <map>
#include <string>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::namespaces {

// What was moved: the interface's name in the runtime's network namespace -> its name in the
// container's. Kept in the container's state for delete.
using MovedNetDevices = std::map<std::string, std::string>;

// Fails, naming the interface, when one is missing from the runtime's network namespace: checked
// before the container is made, so that a typo costs no clone.
ErrorOr<void> check_net_devices(const std::map<std::string, spec::NetDevice>& devices);

// Moves each interface into the network namespace netns_fd, renamed as asked. On failure, those
// already moved are moved back, so that the runtime's namespace is as it was.
ErrorOr<MovedNetDevices> move_net_devices_in(const std::map<std::string, spec::NetDevice>& devices,
                                             int netns_fd);

// Moves each interface back from netns_fd into the calling thread's network namespace under its
// original name. One the container's namespace no longer has (the kernel destroys a virtual
// interface with its namespace's last user) is skipped; the first other failure is returned once
// every interface was tried.
ErrorOr<void> move_net_devices_out(const MovedNetDevices& moved, int netns_fd);

}  // namespace hutch::namespaces
