#include "runtime/console_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "base/fd.h"

namespace hutch::runtime {

ErrorOr<void> send_to_console_socket(const std::string& socket_path, int master) {
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return fail_errno("console socket");
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) return fail("--console-socket: path too long");
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return fail_errno("--console-socket: connect " + socket_path);
    char name[] = "/dev/ptmx";
    struct iovec iov = {name, sizeof name - 1};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
    if (::sendmsg(sock.get(), &msg, MSG_NOSIGNAL) < 0) return fail_errno("--console-socket: send");
    return {};
}

}  // namespace hutch::runtime
