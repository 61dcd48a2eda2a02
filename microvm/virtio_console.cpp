#include "microvm/virtio_console.h"

#include <linux/virtio_ids.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace hutch::microvm {

namespace {

constexpr uint16_t kControlReceive = 2;
constexpr uint16_t kControlTransmit = 3;
// The I/O thread's key for the kick eventfd; ports are keyed by their id.
constexpr uint64_t kKickKey = uint64_t{1} << 32;
// Answers the driver has not taken yet. Each port has a handful at most (repeats are dropped),
// so more means a driver that never takes them: it is stopped rather than allowed to grow this.
constexpr size_t kMaxPendingControl = 8 * (kMaxConsolePorts + 1);

uint16_t receive_queue(uint32_t id) { return static_cast<uint16_t>(id == 0 ? 0 : 2 * id + 2); }
uint16_t transmit_queue(uint32_t id) { return static_cast<uint16_t>(receive_queue(id) + 1); }
uint32_t queue_port(uint16_t index) { return index < 2 ? 0 : index / 2 - 1; }

// The chain's buffers as host memory, each checked to lie in RAM and to go the expected way.
ErrorOr<std::vector<iovec>> buffers(const GuestMemory& memory, const DescriptorChain& chain, bool writable,
                                    const char* what) {
    std::vector<iovec> iov;
    for (const auto& d : chain.descriptors) {
        if (d.device_writable != writable)
            return fail(std::string(what) + " chain " + std::to_string(chain.head) + " has a " +
                        (writable ? "read-only" : "writable") + " buffer");
        if (!memory.contains(d.address, d.length))
            return fail(std::string(what) + " chain " + std::to_string(chain.head) +
                        " has a buffer outside RAM");
        if (d.length) iov.push_back({memory.host_address() + d.address, d.length});
    }
    return iov;
}

size_t total(const std::vector<iovec>& iov) {
    size_t n = 0;
    for (const auto& v : iov) n += v.iov_len;
    return n;
}

// Drops the first `skip` bytes of `iov`: what a socket already took of a chain.
void advance(std::vector<iovec>& iov, size_t skip) {
    auto it = iov.begin();
    for (; it != iov.end() && skip >= it->iov_len; ++it) skip -= it->iov_len;
    iov.erase(iov.begin(), it);
    if (!iov.empty()) {
        iov.front().iov_base = static_cast<uint8_t*>(iov.front().iov_base) + skip;
        iov.front().iov_len -= skip;
    }
}

// Never blocks, never raises SIGPIPE; -1 with errno as recvmsg and sendmsg set it.
ssize_t receive_into(int fd, std::vector<iovec>& iov) {
    msghdr message = {};
    message.msg_iov = iov.data();
    message.msg_iovlen = iov.size();
    ssize_t n;
    do n = ::recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    return n;
}
ssize_t send_from(int fd, std::vector<iovec>& iov) {
    msghdr message = {};
    message.msg_iov = iov.data();
    message.msg_iovlen = iov.size();
    ssize_t n;
    do n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

ErrorOr<void> check_ports(const std::vector<ConsolePort>& ports) {
    std::set<std::string> names;
    size_t consoles = 0;
    for (const auto& port : ports) {
        std::string what = "console port " + (port.name.empty() ? std::string("(console)") : port.name);
        consoles += port.console;
        if (!port.console && port.name.empty())
            return fail("console port: a port that is not the console needs a name");
        if (port.name.size() > kMaxPortName)
            return fail(what + ": a name longer than " + std::to_string(kMaxPortName) + " bytes");
        if (!port.name.empty() && !names.insert(port.name).second) return fail(what + ": named twice");
        int type = 0;
        socklen_t length = sizeof type;
        TRY_SYS(::getsockopt(port.fd, SOL_SOCKET, SO_TYPE, &type, &length),
                what + ": fd " + std::to_string(port.fd) + " is not a usable socket");
    }
    if (consoles > 1) return fail("console ports: more than one is the console");
    if (ports.size() - consoles > kMaxConsolePorts - 1)
        return fail("console ports: more than " + std::to_string(kMaxConsolePorts - 1) + " named ports");
    return {};
}

}  // namespace

ErrorOr<std::unique_ptr<VirtioConsole>> VirtioConsole::create(const std::vector<ConsolePort>& ports,
                                                              const GuestMemory& memory) {
    TRY(check_ports(ports));
    // Port 0 is the console's slot, empty without one, as in QEMU; named ports follow.
    std::vector<std::optional<ConsolePortInfo>> infos(1);
    std::vector<Port> bridged;
    for (const auto& port : ports) {
        uint32_t id = port.console ? 0 : static_cast<uint32_t>(infos.size());
        if (!port.console) infos.emplace_back();
        infos[id] = ConsolePortInfo{port.name, port.console};
        bridged.emplace_back(id, port.fd);
    }
    auto io = TRY(IoThread::create());
    UniqueFd kick(TRY_SYS(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd"));
    TRY(io->add(kick.get(), kKickKey, true));
    for (const auto& port : bridged)
        TRY_CTX(io->add(port.fd, port.id), "console port " + std::to_string(port.id));
    return std::unique_ptr<VirtioConsole>(new VirtioConsole(
        std::move(bridged), ConsoleControl(std::move(infos)), std::move(io), std::move(kick), memory));
}

VirtioConsole::VirtioConsole(std::vector<Port> ports, ConsoleControl control, std::unique_ptr<IoThread> io,
                             UniqueFd kick, const GuestMemory& memory)
    : ports_(std::move(ports)),
      control_(std::move(control)),
      memory_(memory),
      kick_(std::move(kick)),
      io_(std::move(io)) {
    config_.max_nr_ports = control_.max_ports();
}

// Joins the thread before anything goes; not io_.reset(), which clears the pointer the thread
// still uses (arm()) before the join.
VirtioConsole::~VirtioConsole() { io_->stop(); }

uint32_t VirtioConsole::device_id() const { return VIRTIO_ID_CONSOLE; }

std::span<const uint8_t> VirtioConsole::config() const {
    return {reinterpret_cast<const uint8_t*>(&config_), sizeof config_};
}

ErrorOr<void> VirtioConsole::start(VirtioTransport& transport) {
    transport_ = &transport;
    return io_->start([this](uint64_t key, uint32_t events) { on_io(key, events); });
}

VirtioConsole::Port* VirtioConsole::port(uint32_t id) {
    auto it = std::find_if(ports_.begin(), ports_.end(), [&](const Port& p) { return p.id == id; });
    return it == ports_.end() ? nullptr : &*it;
}

ErrorOr<bool> VirtioConsole::process(uint16_t index, Virtqueue& queue) {
    if (index == kControlReceive) return deliver_control(queue);
    if (index == kControlTransmit)
        return queue.serve_available([this](const DescriptorChain& chain) { return take_control(chain); });
    Port* bridged = port(queue_port(index));
    if (!bridged) return false;  // a queue of no port: its buffers stay unused
    return index % 2 == 0 ? receive(*bridged, queue) : transmit(*bridged, queue);
}

// Host input into the guest's buffers, while the port is open both ends and the socket has some.
ErrorOr<bool> VirtioConsole::receive(Port& port, Virtqueue& queue) {
    if (!port.host_readable || !control_.guest_open(port.id)) return false;
    bool used = false;
    uint16_t round = 0;
    for (; round < kMaxQueueSize; ++round) {
        if (!port.receiving) port.receiving = TRY(queue.pop());
        if (!port.receiving) break;  // no buffer: the guest's notify brings the next
        auto iov = TRY(buffers(memory_, *port.receiving, true, "receive"));
        if (total(iov) == 0) {
            queue.add_used(port.receiving->head, 0);  // no room for a byte: returned unused
        } else {
            ssize_t n = receive_into(port.fd, iov);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // held until input comes
            if (n <= 0) {
                host_closed(port);  // end of file, or a socket that failed: the same for the guest
                break;
            }
            queue.add_used(port.receiving->head, static_cast<uint32_t>(n));
        }
        port.receiving.reset();
        used = true;
    }
    if (round == kMaxQueueSize)
        schedule_kick(receive_queue(port.id));  // more later, not all under the lock now
    arm(port);
    return used;
}

// The guest's output to the socket, a chain at a time, in order; a chain the socket cannot take
// whole is held, with what it took, until the socket is writable.
ErrorOr<bool> VirtioConsole::transmit(Port& port, Virtqueue& queue) {
    bool used = false;
    uint16_t round = 0;
    for (; round < kMaxQueueSize; ++round) {
        if (!port.sending) {
            port.sending = TRY(queue.pop());
            port.sent = 0;
        }
        if (!port.sending) break;
        auto iov = TRY(buffers(memory_, *port.sending, false, "transmit"));
        size_t length = total(iov);
        if (port.host_writable && port.sent < length) {
            advance(iov, port.sent);
            ssize_t n = send_from(port.fd, iov);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // held until writable
            if (n < 0) port.host_writable = false;  // the host stopped reading: the rest is dropped
            if (n > 0) port.sent += static_cast<size_t>(n);
            if (port.host_writable && port.sent < length) continue;  // a short send: try the rest
        }
        queue.add_used(port.sending->head, 0);
        port.sending.reset();
        used = true;
    }
    if (round == kMaxQueueSize) schedule_kick(transmit_queue(port.id));
    arm(port);
    return used;
}

ErrorOr<bool> VirtioConsole::deliver_control(Virtqueue& queue) {
    bool used = false;
    while (!pending_control_.empty()) {
        auto chain = TRY(queue.pop());
        if (!chain) break;  // the rest waits for the guest's next buffers
        auto iov = TRY(buffers(memory_, *chain, true, "control receive"));
        const auto& message = pending_control_.front();
        // A buffer too small for the message takes what fits, as QEMU's does.
        size_t copied = 0;
        for (const auto& v : iov) {
            size_t n = std::min(v.iov_len, message.size() - copied);
            std::memcpy(v.iov_base, message.data() + copied, n);
            copied += n;
        }
        queue.add_used(chain->head, static_cast<uint32_t>(copied));
        pending_control_.pop_front();
        used = true;
    }
    return used;
}

ErrorOr<uint32_t> VirtioConsole::take_control(const DescriptorChain& chain) {
    auto iov = TRY(buffers(memory_, chain, false, "control transmit"));
    uint8_t bytes[kControlHeaderSize];
    size_t got = 0;
    for (const auto& v : iov) {
        size_t n = std::min(v.iov_len, sizeof bytes - got);
        std::memcpy(bytes + got, v.iov_base, n);
        got += n;
    }
    auto message = TRY(parse_control({bytes, got}));
    for (const auto& answer : TRY(control_.handle(message))) TRY(queue_control(answer));
    // A port the guest just opened may have input waiting in its socket.
    if (message.event == ControlEvent::port_open && control_.guest_open(message.id))
        schedule_kick(receive_queue(message.id));
    return 0;
}

ErrorOr<void> VirtioConsole::queue_control(const ControlMessage& message) {
    if (pending_control_.size() >= kMaxPendingControl)
        return fail("the driver leaves " + std::to_string(pending_control_.size()) +
                    " control messages untaken");
    pending_control_.push_back(encode_control(message));
    schedule_kick(kControlReceive);
    return {};
}

void VirtioConsole::host_closed(Port& port) {
    port.host_readable = false;
    // One message per port at most: the queue's bound holds.
    if (auto message = control_.host_closed(port.id)) {
        pending_control_.push_back(encode_control(*message));
        schedule_kick(kControlReceive);
    }
}

// The socket wakes the I/O thread again only for what the device can take: input while it holds
// a buffer for it, output room while it holds a chain.
void VirtioConsole::arm(const Port& port) const {
    uint32_t events = 0;
    if (port.receiving && port.host_readable && control_.guest_open(port.id)) events |= EPOLLIN;
    if (port.sending && port.host_writable) events |= EPOLLOUT;
    if (events) io_->arm(port.fd, port.id, events);
}

void VirtioConsole::schedule_kick(uint16_t index) {
    pending_kicks_.fetch_or(uint64_t{1} << index);
    uint64_t one = 1;
    // An eventfd's write fails only on overflow, which the I/O thread's reads prevent.
    (void)!::write(kick_.get(), &one, sizeof one);
}

void VirtioConsole::reset() {
    control_.reset();
    pending_control_.clear();
    for (auto& port : ports_) {
        port.receiving.reset();
        port.sending.reset();
        port.sent = 0;
    }
}

// On the I/O thread: the transport serves the queues, under its lock, as for a notify.
void VirtioConsole::on_io(uint64_t key, uint32_t events) {
    if (key == kKickKey) {
        uint64_t count;
        (void)!::read(kick_.get(), &count, sizeof count);
        uint64_t kicks = pending_kicks_.exchange(0);
        for (uint16_t index = 0; kicks; ++index, kicks >>= 1)
            if (kicks & 1) transport_->kick(index);
        return;
    }
    auto id = static_cast<uint32_t>(key);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) transport_->kick(receive_queue(id));
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) transport_->kick(transmit_queue(id));
}

}  // namespace hutch::microvm
