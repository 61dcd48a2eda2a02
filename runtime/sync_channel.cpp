#include "runtime/sync_channel.h"

#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace hutch::runtime {

ErrorOr<std::pair<SyncChannel, SyncChannel>> SyncChannel::make_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return fail_errno("socketpair");
    return std::pair{SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1]))};
}

// Enough for one fd per cgroup hierarchy.
constexpr size_t kMaxFds = 16;

// A SOCK_SEQPACKET message larger than the sender's socket buffer is refused, and one larger than
// the reader's buffer is cut short. A long text (the state given to the hooks holds every
// annotation, without limit) therefore goes as packets of at most kPacketText bytes, each but the
// last flagged kMore in its type byte, and receive() joins them. Fds go with the first packet.
constexpr size_t kPacketText = 32 * 1024;
constexpr uint8_t kMore = 0x80;

namespace {

ErrorOr<void> send_packet(int fd, uint8_t header, std::string_view text, std::span<const int> fds) {
    struct iovec iov[2] = {{&header, 1}, {const_cast<char*>(text.data()), text.size()}};
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
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
    while (::sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) return fail_errno("sync channel: send");
    return {};
}

void take_fds(struct msghdr& msg, std::vector<UniqueFd>& fds) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.emplace_back(fd);
        }
    }
}

// Receives one packet, appending its text and fds to r; returns its type byte. A packet cut short
// fails: half a message read as a whole one would be worse than none.
ErrorOr<uint8_t> receive_packet(int fd, SyncChannel::Received& r) {
    uint8_t header = 0;
    auto text = std::make_unique_for_overwrite<char[]>(kPacketText);  // not zeroed: on the start path
    struct iovec iov[2] = {{&header, 1}, {text.get(), kPacketText}};
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    alignas(struct cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    // ECONNRESET: the peer closed with a message of ours unread. The kernel reports that once,
    // before what the peer sent us first (its error, say), which is still there to read.
    while ((n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0)
        if (errno != EINTR && errno != ECONNRESET) return fail_errno("sync channel: receive");
    if (n == 0) return std::unexpected(Error{"the container process exited during set-up", EPIPE});
    take_fds(msg, r.fds);
    if (msg.msg_flags & MSG_TRUNC)
        return fail("sync channel: a message over " + std::to_string(kPacketText + 1) +
                    " bytes was cut short");
    if (msg.msg_flags & MSG_CTRUNC) return fail("sync channel: a message's file descriptors were cut short");
    r.text.append(text.get(), static_cast<size_t>(n - 1));
    return header;
}

}  // namespace

ErrorOr<void> SyncChannel::send(SyncMessage type, std::string_view text, std::span<const int> fds) const {
    if (fds.size() > kMaxFds) return fail("sync channel: too many fds");
    do {
        std::string_view part = text.substr(0, kPacketText);
        text.remove_prefix(part.size());
        auto header = static_cast<uint8_t>(static_cast<uint8_t>(type) | (text.empty() ? 0 : kMore));
        TRY(send_packet(fd_.get(), header, part, fds));
        fds = {};
    } while (!text.empty());
    return {};
}

ErrorOr<SyncChannel::Received> SyncChannel::receive() const {
    Received r{};
    uint8_t header = TRY(receive_packet(fd_.get(), r));
    r.type = static_cast<SyncMessage>(header & ~kMore);
    while (header & kMore) {
        header = TRY(receive_packet(fd_.get(), r));
        if (static_cast<SyncMessage>(header & ~kMore) != r.type)
            return fail("sync channel: a message's packets came with different types");
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

Error SyncChannel::explain(Error failure) const {
    if (failure.code != EPIPE) return failure;
    // What the child queued before it went (a terminal, then its error) is still there to read.
    for (auto msg = receive(); msg; msg = receive())
        if (msg->type == SyncMessage::error) return Error::with_message(msg->text);
    return failure;
}

}  // namespace hutch::runtime
