#include "namespaces/net_devices.h"

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "base/fd.h"

namespace hutch::namespaces {
namespace {

std::string field(const std::string& host_name) { return "linux.netDevices[\"" + host_name + "\"]"; }

// One rtnetlink request: the header, a fixed body (ifinfomsg, ifaddrmsg) and attributes.
class Request {
public:
    Request(uint16_t type, uint16_t flags, const void* body, size_t size) {
        auto* header = reinterpret_cast<nlmsghdr*>(buffer_.data());
        header->nlmsg_type = type;
        header->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
        header->nlmsg_seq = 1;
        header->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(size));
        std::memcpy(NLMSG_DATA(header), body, size);
    }
    void add(unsigned short type, const void* data, size_t size) {
        auto* header = reinterpret_cast<nlmsghdr*>(buffer_.data());
        auto* attr = reinterpret_cast<rtattr*>(buffer_.data() + NLMSG_ALIGN(header->nlmsg_len));
        attr->rta_type = type;
        attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
        std::memcpy(RTA_DATA(attr), data, size);
        header->nlmsg_len = NLMSG_ALIGN(header->nlmsg_len) + RTA_ALIGN(attr->rta_len);
    }
    const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buffer_.data()); }

private:
    // Room for the header, a body and a few attributes of at most an interface name or an IPv6
    // address each.
    alignas(nlmsghdr) std::array<char, 256> buffer_{};
};

// A NETLINK_ROUTE socket of the calling thread's network namespace: it keeps that namespace.
ErrorOr<UniqueFd> open_rtnetlink() {
    UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!sock) return fail_errno("open a NETLINK_ROUTE socket");
    return sock;
}

ErrorOr<void> send(int sock, const Request& request, const std::string& what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const nlmsghdr* header = request.header();
    if (::sendto(sock, header, header->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
        return fail_errno("send " + what);
    return {};
}

// Sends the request and reads the kernel's answer: an ack (error 0) or the errno it refused with.
ErrorOr<void> send_request(int sock, const Request& request, const std::string& what) {
    TRY(send(sock, request, what));
    alignas(nlmsghdr) std::array<char, 1024> answer;
    ssize_t n = ::recv(sock, answer.data(), answer.size(), 0);
    if (n < 0) return fail_errno("receive the answer to " + what);
    auto* reply = reinterpret_cast<const nlmsghdr*>(answer.data());
    if (!NLMSG_OK(reply, static_cast<unsigned>(n)) || reply->nlmsg_type != NLMSG_ERROR)
        return fail(what + ": no acknowledgement from the kernel");
    int error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
    if (error != 0) return fail_errno(what, -error);
    return {};
}

// Moves interface `name` of the calling thread's network namespace into netns_fd as new_name,
// with one RTM_NEWLINK (IFLA_NET_NS_FD and IFLA_IFNAME), as `ip link set DEV netns NS name NAME`.
ErrorOr<void> move_interface(const std::string& name, int netns_fd, const std::string& new_name) {
    unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) return fail_errno("find interface " + name);
    ifinfomsg link{};
    link.ifi_family = AF_UNSPEC;
    link.ifi_index = static_cast<int>(index);
    Request request(RTM_NEWLINK, NLM_F_ACK, &link, sizeof link);
    uint32_t fd = static_cast<uint32_t>(netns_fd);
    request.add(IFLA_NET_NS_FD, &fd, sizeof fd);
    request.add(IFLA_IFNAME, new_name.c_str(), new_name.size() + 1);  // with its NUL, as the kernel wants
    UniqueFd sock = TRY(open_rtnetlink());
    return send_request(sock.get(), request, "RTM_NEWLINK");
}

// An address the kernel drops when its interface changes namespace, to be added again there.
struct Address {
    ifaddrmsg header{};
    std::vector<std::pair<unsigned short, std::string>> attributes;  // IFA_LOCAL, IFA_ADDRESS, ...
};

// What the runtime-spec says to keep: addresses given by hand (IFA_F_PERMANENT: no lifetime, not
// from DHCP or autoconfiguration) of global scope, as runc and youki keep them.
bool kept_on_move(const ifaddrmsg& header, uint32_t flags) {
    return header.ifa_scope == RT_SCOPE_UNIVERSE && (flags & IFA_F_PERMANENT);
}

std::optional<Address> parse_address(const nlmsghdr* message, unsigned index) {
    const auto* header = static_cast<const ifaddrmsg*>(NLMSG_DATA(message));
    if (header->ifa_index != index) return std::nullopt;
    Address address{.header = *header, .attributes = {}};
    uint32_t flags = header->ifa_flags;
    int length = static_cast<int>(IFA_PAYLOAD(message));
    for (const rtattr* attr = IFA_RTA(header); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
        std::string value(static_cast<const char*>(RTA_DATA(attr)), RTA_PAYLOAD(attr));
        if (attr->rta_type == IFA_FLAGS && value.size() == sizeof flags)
            std::memcpy(&flags, value.data(), sizeof flags);
        if (attr->rta_type == IFA_LOCAL || attr->rta_type == IFA_ADDRESS || attr->rta_type == IFA_BROADCAST)
            address.attributes.emplace_back(attr->rta_type, std::move(value));
    }
    if (!kept_on_move(address.header, flags)) return std::nullopt;
    return address;
}

// The kept addresses of interface `index`, read with one RTM_GETADDR dump on sock.
ErrorOr<std::vector<Address>> kept_addresses(int sock, unsigned index) {
    ifaddrmsg all{};
    all.ifa_family = AF_UNSPEC;
    TRY(send(sock, Request(RTM_GETADDR, NLM_F_DUMP, &all, sizeof all), "RTM_GETADDR"));
    std::vector<Address> kept;
    alignas(nlmsghdr) std::array<char, 16384> answer;
    for (;;) {
        ssize_t n = ::recv(sock, answer.data(), answer.size(), 0);
        if (n < 0) return fail_errno("receive the answer to RTM_GETADDR");
        auto length = static_cast<unsigned>(n);
        for (auto* m = reinterpret_cast<const nlmsghdr*>(answer.data()); NLMSG_OK(m, length);
             m = NLMSG_NEXT(m, length)) {
            if (m->nlmsg_type == NLMSG_DONE) return kept;
            if (m->nlmsg_type == NLMSG_ERROR) return fail("RTM_GETADDR: refused by the kernel");
            if (m->nlmsg_type != RTM_NEWADDR) continue;
            if (auto address = parse_address(m, index)) kept.push_back(std::move(*address));
        }
    }
}

ErrorOr<void> add_address(int sock, unsigned index, const Address& address) {
    ifaddrmsg header = address.header;
    header.ifa_index = index;
    Request request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &header, sizeof header);
    for (const auto& [type, value] : address.attributes) request.add(type, value.data(), value.size());
    return send_request(sock, request, "RTM_NEWADDR");
}

ErrorOr<void> add_addresses(const std::string& name, const std::vector<Address>& addresses) {
    if (addresses.empty()) return {};
    unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) return fail_errno("find interface " + name);
    UniqueFd sock = TRY(open_rtnetlink());
    for (const auto& address : addresses)
        TRY_CTX(add_address(sock.get(), index, address), "give " + name + " its address back");
    return {};
}

ErrorOr<std::vector<Address>> kept_addresses_of(const std::string& name) {
    unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0) return fail_errno("find interface " + name);
    UniqueFd sock = TRY(open_rtnetlink());
    return kept_addresses(sock.get(), index);
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

ErrorOr<void> add_addresses_in(int netns_fd, const std::string& name, const std::vector<Address>& addresses) {
    if (addresses.empty()) return {};
    auto inside = TRY(InNetworkNamespace::enter(netns_fd));
    return add_addresses(name, addresses);
}

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
        auto addresses = kept_addresses_of(host_name);
        auto result =
            addresses ? move_interface(host_name, netns_fd, inside) : std::unexpected(addresses.error());
        if (result) {
            moved.emplace(host_name, inside);
            result = add_addresses_in(netns_fd, inside, *addresses);
        }
        if (!result) {
            // The kernel moves the interface first and renames it there after: a name refused
            // there leaves it inside under its own, and it comes back with the others.
            if (!moved.contains(host_name) && ::if_nametoindex(host_name.c_str()) == 0)
                moved.emplace(host_name, host_name);
            (void)move_net_devices_out(moved, netns_fd);
            return std::unexpected(
                result.error().context(field(host_name) + ": move into the container's network namespace"));
        }
    }
    return moved;
}

ErrorOr<void> move_net_devices_out(const MovedNetDevices& moved, int netns_fd) {
    if (moved.empty()) return {};
    ErrorOr<void> first = {};
    auto keep_first = [&](const ErrorOr<void>& result, const std::string& host_name,
                          const std::string& what) {
        if (!result && first) first = std::unexpected(result.error().context(field(host_name) + ": " + what));
    };
    std::map<std::string, std::vector<Address>> addresses_back;
    {
        auto inside = TRY(InNetworkNamespace::enter(netns_fd));
        for (const auto& [host_name, name_inside] : moved) {
            auto addresses = kept_addresses_of(name_inside);
            auto result = move_interface(name_inside, inside.home(), host_name);
            if (result && addresses) addresses_back.emplace(host_name, std::move(*addresses));
            if (!result && result.error().code != ENODEV)
                keep_first(result, host_name,
                           "move " + name_inside + " back to the runtime's network namespace");
        }
    }
    for (const auto& [host_name, addresses] : addresses_back)
        keep_first(add_addresses(host_name, addresses), host_name, "back in the runtime's network namespace");
    return first;
}

}  // namespace hutch::namespaces
