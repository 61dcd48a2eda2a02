#include "runtime/unix_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "base/fd.h"

namespace hutch::runtime {

ErrorOr<void> send_fd_over_socket(const std::string& socket_path, std::string_view payload, int fd,
                                  const std::string& what) {
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return fail_errno(what + ": socket");
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) return fail(what + ": path too long");
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return fail_errno(what + ": connect " + socket_path);
    struct iovec iov = {const_cast<char*>(payload.data()), payload.size()};
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
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t sent = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
    if (sent < 0) return fail_errno(what + ": send");
    // A stream socket may take part of the payload with the fd; the rest goes on plainly.
    for (auto done = static_cast<size_t>(sent); done < payload.size();) {
        ssize_t n = ::send(sock.get(), payload.data() + done, payload.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return fail_errno(what + ": send");
        done += static_cast<size_t>(n);
    }
    return {};
}

ErrorOr<void> send_to_console_socket(const std::string& socket_path, int master) {
    return send_fd_over_socket(socket_path, "/dev/ptmx", master, "--console-socket");
}

}  // namespace hutch::runtime
