#include "runtime/sync_channel.h"

#include <sys/socket.h>

#include <cstring>

namespace hutch::runtime {

ErrorOr<std::pair<SyncChannel, SyncChannel>> SyncChannel::make_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return fail_errno("socketpair");
    return std::pair{SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1]))};
}

// Enough for one fd per cgroup hierarchy.
constexpr size_t kMaxFds = 16;

ErrorOr<void> SyncChannel::send(SyncMessage type, std::string_view text, std::span<const int> fds) const {
    if (fds.size() > kMaxFds) return fail("sync channel: too many fds");
    std::string payload(1, static_cast<char>(type));
    payload.append(text);
    struct iovec iov = {payload.data(), payload.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
    if (!fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
        struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), fds.data(), fds.size() * sizeof(int));
    }
    while (::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) return fail_errno("sync channel: send");
    return {};
}

ErrorOr<SyncChannel::Received> SyncChannel::receive() const {
    char buf[4096];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR) return fail_errno("sync channel: receive");
    if (n == 0) return std::unexpected(Error{"the container process exited during set-up", EPIPE});
    Received r{static_cast<SyncMessage>(buf[0]), std::string(buf + 1, static_cast<size_t>(n - 1)), {}};
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            r.fds.emplace_back(fd);
        }
    }
    return r;
}

ErrorOr<SyncChannel::Received> SyncChannel::expect(SyncMessage type) const {
    auto r = TRY(receive());
    if (r.type == SyncMessage::error) return fail(r.text);
    if (r.type != type)
        return fail("sync channel: unexpected message " + std::to_string(static_cast<int>(r.type)));
    return r;
}

ErrorOr<void> SyncChannel::wait_closed() const {
    auto r = receive();
    if (!r && r.error().code == EPIPE) return {};
    if (!r) return std::unexpected(r.error());
    if (r->type == SyncMessage::error) return fail(r->text);
    return fail("sync channel: unexpected message " + std::to_string(static_cast<int>(r->type)));
}

}  // namespace hutch::runtime
