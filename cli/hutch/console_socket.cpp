// The console socket of a container with a terminal (console_socket.h).
#include "cli/hutch/console_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

namespace hutch::cli {

ErrorOr<ConsoleSocket> ConsoleSocket::listen() {
    // A directory of its own in /tmp: a socket path has 108 bytes, which a storage root may not leave.
    char dir[] = "/tmp/hutch-console-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return fail_errno("mkdtemp /tmp/hutch-console-XXXXXX");
    ConsoleSocket console(dir);
    console.fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!console.fd_) return fail_errno("socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, console.path().c_str(), sizeof address.sun_path - 1);
    if (::bind(console.fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == -1)
        return fail_errno("bind " + console.path());
    if (::listen(console.fd_.get(), 1) == -1) return fail_errno("listen " + console.path());
    return console;
}

ConsoleSocket::~ConsoleSocket() {
    if (dir_.empty()) return;
    ::unlink(path().c_str());
    ::rmdir(dir_.c_str());
}

ErrorOr<UniqueFd> ConsoleSocket::receive_master() {
    UniqueFd peer(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) return fail_errno("accept on " + path());
    char payload[256];
    iovec iov{payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (::recvmsg(peer.get(), &message, MSG_CMSG_CLOEXEC) == -1) return fail_errno("receive the terminal");
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return fail("the runtime sent no terminal");
    int fd;
    std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return UniqueFd(fd);
}

}  // namespace hutch::cli
