#include "gated_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

namespace hutch::test {
namespace {

// How often the threads look at stop_ and released_: the longest a release or a stop waits.
constexpr int kPollMs = 20;

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// Moves what from has to to; false at the end of from's stream or on an error.
bool pass(int from, int to, size_t& passed) {
    char buffer[64 * 1024];
    ssize_t n = recv(from, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    for (ssize_t sent = 0; sent < n;) {
        ssize_t m = send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (m <= 0) return false;
        sent += m;
    }
    passed += static_cast<size_t>(n);
    return true;
}

}  // namespace

GatedProxy::GatedProxy(int server_port, size_t hold_after)
    : server_port_(server_port), hold_after_(hold_after) {
    listener_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener_);
    auto addr = loopback(0);
    REQUIRE(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    REQUIRE(listen(listener_.get(), 16) == 0);
    acceptor_ = std::thread(&GatedProxy::accept_loop, this);
}

GatedProxy::~GatedProxy() {
    released_ = true;
    stop_ = true;
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (auto& relay : relays_) relay.join();
}

void GatedProxy::accept_loop() {
    while (!stop_) {
        pollfd p{listener_.get(), POLLIN, 0};
        if (poll(&p, 1, kPollMs) <= 0) continue;
        UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) continue;
        std::lock_guard lock(mutex_);
        relays_.emplace_back(&GatedProxy::relay, this, std::move(client));
    }
}

void GatedProxy::relay(UniqueFd client) {
    UniqueFd server(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto addr = loopback(server_port_);
    if (!server || connect(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    size_t to_client = 0, to_server = 0;
    while (!stop_) {
        bool held = !released_ && to_client >= hold_after_;
        if (held) holding_ = true;
        // A held answer is not read from the server: the client waits, its socket stays open.
        pollfd fds[2] = {{client.get(), POLLIN, 0}, {server.get(), static_cast<short>(held ? 0 : POLLIN), 0}};
        if (poll(fds, 2, kPollMs) <= 0) continue;
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pass(client.get(), server.get(), to_server))
            return;
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pass(server.get(), client.get(), to_client))
            return;
    }
}

}  // namespace hutch::test
