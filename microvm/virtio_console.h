// virtio-console (virtio 1.x section 5.3, device id 3) with VIRTIO_CONSOLE_F_MULTIPORT, on QEMU's
// virtio-serial's model: named ports the guest finds under /sys/class/virtio-ports/*/name (the
// ports of hutch's agent, microvm/agent/protocol.h), and port 0 its hvc console when asked for.
// Named ports take ids 1, 2, ... in order. Queues: port 0's receive and transmit (0, 1), the
// control receive and transmit queues (2, 3), then port n's at 2n+2 and 2n+3. The control
// protocol is in console_control.h.
//
// Each port is bridged to a host socket (not owned): what the guest writes on the port's transmit
// queue is sent on it, what arrives on it goes into the port's receive buffers. Host input needs
// work no vCPU starts, so the device has an I/O thread (io_thread.h) that waits on the sockets
// and kicks the port's queue through the transport (virtio_device.h). Back-pressure both ways:
// the socket is read only into a receive buffer the device holds, so data waits in the socket
// while the guest has no buffer (its next notify brings one), and only while the guest has the
// port open (Linux drops what arrives on a closed port); the guest's chain that a full socket
// cannot take is held, and no later one taken, until the socket is writable again. Nothing
// blocks: a vCPU's notify never waits on the host. The host closing its end (end of file) closes
// the port for the guest (PORT_OPEN 0) after every byte before it was delivered; what the guest
// writes on a port the host no longer reads is dropped, as QEMU drops it.
//
// The guest is hostile: a chain with a buffer outside RAM or of the wrong direction, or a control
// message that breaks the protocol, stops the device (DEVICE_NEEDS_RESET); an empty receive
// buffer is returned unused.
#pragma once

#include <linux/virtio_console.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "microvm/console_control.h"
#include "microvm/guest_memory.h"
#include "microvm/io_thread.h"
#include "microvm/virtio_device.h"

namespace hutch::microvm {

// QEMU's default max_nr_ports: with port 0's slot, 64 queues.
constexpr uint32_t kMaxConsolePorts = 31;
// PORT_NAME goes in one control buffer of the guest's; Linux's are a page.
constexpr size_t kMaxPortName = 255;

struct ConsolePort {
    std::string name;      // the guest's /sys/class/virtio-ports/*/name; may be empty for the console
    int fd = -1;           // a connected socket, not owned, open while the device is
    bool console = false;  // port 0, the guest's hvc console; at most one
};

class VirtioConsole final : public VirtioDevice {
public:
    static ErrorOr<std::unique_ptr<VirtioConsole>> create(const std::vector<ConsolePort>& ports,
                                                          const GuestMemory& memory);
    ~VirtioConsole() override;  // stops the I/O thread first

    uint32_t device_id() const override;
    uint64_t features() const override { return 1ull << VIRTIO_CONSOLE_F_MULTIPORT; }
    std::span<const uint8_t> config() const override;
    uint16_t queue_count() const override { return static_cast<uint16_t>(2 * (config_.max_nr_ports + 1)); }
    ErrorOr<bool> process(uint16_t index, Virtqueue& queue) override;
    void reset() override;
    ErrorOr<void> start(VirtioTransport& transport) override;

private:
    struct Port {
        Port(uint32_t id, int fd) : id(id), fd(fd) {}
        uint32_t id;
        int fd;
        bool host_readable = true;                 // no end of file yet
        bool host_writable = true;                 // no EPIPE yet
        std::optional<DescriptorChain> receiving;  // a guest buffer waiting for host input
        std::optional<DescriptorChain> sending;    // a guest chain the host socket has not all taken
        size_t sent = 0;                           // of `sending`
    };

    VirtioConsole(std::vector<Port> ports, ConsoleControl control, std::unique_ptr<IoThread> io,
                  UniqueFd kick, const GuestMemory& memory);
    Port* port(uint32_t id);
    ErrorOr<bool> receive(Port& port, Virtqueue& queue);
    ErrorOr<bool> transmit(Port& port, Virtqueue& queue);
    ErrorOr<bool> deliver_control(Virtqueue& queue);
    ErrorOr<uint32_t> take_control(const DescriptorChain& chain);
    ErrorOr<void> queue_control(const ControlMessage& message);
    void host_closed(Port& port);
    void arm(const Port& port) const;
    void schedule_kick(uint16_t index);
    void on_io(uint64_t key, uint32_t events);

    std::vector<Port> ports_;
    ConsoleControl control_;
    std::deque<std::vector<uint8_t>> pending_control_;  // for the guest, waiting for its buffers
    const GuestMemory& memory_;
    virtio_console_config config_ = {};
    VirtioTransport* transport_ = nullptr;
    // Queues to kick from the I/O thread: work a vCPU's notify made for another queue (answers
    // for the control receive queue, input for a port just opened), which process() cannot do.
    std::atomic<uint64_t> pending_kicks_{0};
    UniqueFd kick_;  // an eventfd that wakes the I/O thread for them
    // Last: destroyed, so stopped and joined, before anything its thread uses.
    std::unique_ptr<IoThread> io_;
};

}  // namespace hutch::microvm
