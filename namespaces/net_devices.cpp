#include "namespaces/net_devices.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "base/fd.h"

namespace hutch::namespaces {
namespace {

std::string field(const std::string& host_name) { return "linux.netDevices[\"" + host_name + "\"]"; }

// One RTM_NEWLINK request: the header, the interface, and two attributes.
class LinkRequest {
public:
    LinkRequest(unsigned index, int netns_fd, const std::string& new_name) {
        auto* header = reinterpret_cast<nlmsghdr*>(buffer_.data());
        header->nlmsg_type = RTM_NEWLINK;
        header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        header->nlmsg_seq = 1;
        header->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
        auto* link = static_cast<ifinfomsg*>(NLMSG_DATA(header));
        link->ifi_family = AF_UNSPEC;
        link->ifi_index = static_cast<int>(index);
        uint32_t fd = static_cast<uint32_t>(netns_fd);
        add(IFLA_NET_NS_FD, &fd, sizeof fd);
        add(IFLA_IFNAME, new_name.c_str(), new_name.size() + 1);  // with its NUL, as the kernel wants
    }
    const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buffer_.data()); }

private:
    void add(unsigned short type, const void* data, size_t size) {
        auto* header = reinterpret_cast<nlmsghdr*>(buffer_.data());
        auto* attr = reinterpret_cast<rtattr*>(buffer_.data() + NLMSG_ALIGN(header->nlmsg_len));
        attr->rta_type = type;
        attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
        std::memcpy(RTA_DATA(attr), data, size);
        header->nlmsg_len = NLMSG_ALIGN(header->nlmsg_len) + RTA_ALIGN(attr->rta_len);
    }
    // Room for the header, ifinfomsg, a u32 and a name of IFNAMSIZ bytes, each aligned.
    alignas(nlmsghdr) std::array<char, 128> buffer_{};
};

// Sends the request and reads the kernel's answer: an ack (error 0) or the errno it refused with.
ErrorOr<void> send_request(const LinkRequest& request) {
    UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!sock) return fail_errno("open a NETLINK_ROUTE socket");
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const nlmsghdr* header = request.header();
    if (::sendto(sock.get(), header, header->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return fail_errno("send RTM_NEWLINK");
    alignas(nlmsghdr) std::array<char, 1024> answer;
    ssize_t n = ::recv(sock.get(), answer.data(), answer.size(), 0);
    if (n < 0) return fail_errno("receive the answer to RTM_NEWLINK");
    auto* reply = reinterpret_cast<const nlmsghdr*>(answer.data());
    if (!NLMSG_OK(reply, static_cast<unsigned>(n)) || reply->nlmsg_type != NLMSG_ERROR)
        return fail("RTM_NEWLINK: no acknowledgement from the kernel");
    int error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
    if (error != 0) return fail_errno("RTM_NEWLINK", -error);
    return {};
}

// Moves interface `name` of the calling thread's network namespace into netns_fd as new_name.
ErrorOr<void> move_interface(const std::string& name, int netns_fd, const std::string& new_name) {
    unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) return fail_errno("find interface " + name);
    return send_request(LinkRequest(index, netns_fd, new_name));
}

// The calling thread in another network namespace until destroyed. setns() changes only this
// thread's namespace, and a socket keeps the namespace it was made in.
class InNetworkNamespace {
public:
    static ErrorOr<InNetworkNamespace> enter(int netns_fd) {
        UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!home) return fail_errno("open /proc/thread-self/ns/net");
        if (::setns(netns_fd, CLONE_NEWNET) != 0)
            return fail_errno("enter the container's network namespace");
        return InNetworkNamespace(std::move(home));
    }
    InNetworkNamespace(InNetworkNamespace&&) = default;
    ~InNetworkNamespace() {
        if (home_) (void)::setns(home_.get(), CLONE_NEWNET);
    }
    int home() const { return home_.get(); }

private:
    explicit InNetworkNamespace(UniqueFd home) : home_(std::move(home)) {}
    UniqueFd home_;
};

}  // namespace

ErrorOr<void> check_net_devices(const std::map<std::string, spec::NetDevice>& devices) {
    for (const auto& [host_name, device] : devices)
        if (::if_nametoindex(host_name.c_str()) == 0)
            return fail_errno(field(host_name) + ": no interface " + host_name +
                              " in the runtime's network namespace");
    return {};
}

ErrorOr<MovedNetDevices> move_net_devices_in(const std::map<std::string, spec::NetDevice>& devices,
                                             int netns_fd) {
    MovedNetDevices moved;
    for (const auto& [host_name, device] : devices) {
        std::string inside = spec::container_net_device_name(host_name, device);
        auto result = move_interface(host_name, netns_fd, inside);
        if (!result) {
            // The kernel moves the interface first and renames it there after: a name refused
            // there leaves it inside under its own, and it comes back with the others.
            if (::if_nametoindex(host_name.c_str()) == 0) moved.emplace(host_name, host_name);
            (void)move_net_devices_out(moved, netns_fd);
            return std::unexpected(
                result.error().context(field(host_name) + ": move into the container's network namespace"));
        }
        moved.emplace(host_name, std::move(inside));
    }
    return moved;
}

ErrorOr<void> move_net_devices_out(const MovedNetDevices& moved, int netns_fd) {
    if (moved.empty()) return {};
    auto inside = TRY(InNetworkNamespace::enter(netns_fd));
    ErrorOr<void> first = {};
    for (const auto& [host_name, name_inside] : moved) {
        auto result = move_interface(name_inside, inside.home(), host_name);
        if (!result && result.error().code != ENODEV && first)
            first = std::unexpected(result.error().context(field(host_name) + ": move " + name_inside +
                                                           " back to the runtime's network namespace"));
    }
    return first;
}

}  // namespace hutch::namespaces
