// The control protocol of a multiport virtio-console (virtio 1.x section 5.3.6.2), the device's
// side, without queues or fds: how a control message reads and writes, and what the device
// answers each of the driver's. QEMU's virtio-serial is the model:
//   driver: DEVICE_READY          device: PORT_ADD for every port
//   driver: PORT_READY n, 1       device: CONSOLE_PORT n (the console port), PORT_NAME n + name
//                                         (a named port), PORT_OPEN n, 1 (while the host end is open)
//   driver: PORT_OPEN n, 0|1      (the guest closed or opened the port) no answer
//   device: PORT_OPEN n, 0        when the host end closes
// The driver is the guest, and hostile: a message too short, or about a port that was never
// added, is an error (the device stops); one the device has no use for, or a repeat of
// DEVICE_READY or PORT_READY (which would make the device queue answers without end), is dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::microvm {

// The events of <linux/virtio_console.h>, by their spec names.
enum class ControlEvent : uint16_t {
    device_ready = 0,
    port_add = 1,
    port_remove = 2,
    port_ready = 3,
    console_port = 4,
    resize = 5,
    port_open = 6,
    port_name = 7,
};

struct ControlMessage {
    uint32_t id;  // the port
    ControlEvent event;
    uint16_t value;
    std::string name;  // PORT_NAME's, after the header; empty for every other event

    bool operator==(const ControlMessage&) const = default;
};

// The 8-byte header (le32 id, le16 event, le16 value) and, for PORT_NAME, the name's bytes (no
// NUL: Linux takes the name's length from the buffer's).
constexpr size_t kControlHeaderSize = 8;
std::vector<uint8_t> encode_control(const ControlMessage& message);
// A driver's message: the header; bytes after it are ignored (no driver message carries any).
ErrorOr<ControlMessage> parse_control(std::span<const uint8_t> bytes);

struct ConsolePortInfo {
    std::string name;      // empty: no PORT_NAME
    bool console = false;  // CONSOLE_PORT: the guest's hvc console
};

class ConsoleControl {
public:
    // `ports[id]`: the port with that id, or none for an id without a port (port 0 without a
    // console, as in QEMU).
    explicit ConsoleControl(std::vector<std::optional<ConsolePortInfo>> ports);

    // The answers to a driver's message, or an error when the driver broke the protocol.
    ErrorOr<std::vector<ControlMessage>> handle(const ControlMessage& message);
    // The host end of port `id` closed: PORT_OPEN 0 when the guest was told it was open.
    std::optional<ControlMessage> host_closed(uint32_t id);
    // The driver reset the device: every port is to be added again. The host ends stay as they are.
    void reset();

    // Whether the guest has port `id` open (its last PORT_OPEN), after PORT_READY.
    bool guest_open(uint32_t id) const;
    bool host_open(uint32_t id) const;
    uint32_t max_ports() const { return static_cast<uint32_t>(ports_.size()); }

private:
    struct Port {
        ConsolePortInfo info;
        bool host_open = true;
        bool ready = false;  // PORT_READY 1 seen
        bool guest_open = false;
    };
    ErrorOr<Port*> added_port(const ControlMessage& message);
    std::vector<ControlMessage> port_ready(uint32_t id, Port& port);

    std::vector<std::optional<Port>> ports_;
    bool device_ready_ = false;  // DEVICE_READY seen, so every port was added
};

}  // namespace hutch::microvm
