#include "microvm/console_control.h"

#include <cstring>

#include "base/log.h"

namespace hutch::microvm {

namespace {

// Fields are little-endian (a VERSION_1 device), as is the host.
template <typename T>
void put(std::vector<uint8_t>& out, T value) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
    out.insert(out.end(), bytes, bytes + sizeof value);
}
template <typename T>
T get(std::span<const uint8_t> bytes, size_t at) {
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    return value;
}

ControlMessage message(uint32_t id, ControlEvent event, uint16_t value, std::string name = {}) {
    return {id, event, value, std::move(name)};
}

}  // namespace

std::vector<uint8_t> encode_control(const ControlMessage& message) {
    std::vector<uint8_t> out;
    out.reserve(kControlHeaderSize + message.name.size());
    put(out, message.id);
    put(out, static_cast<uint16_t>(message.event));
    put(out, message.value);
    out.insert(out.end(), message.name.begin(), message.name.end());
    return out;
}

ErrorOr<ControlMessage> parse_control(std::span<const uint8_t> bytes) {
    if (bytes.size() < kControlHeaderSize)
        return fail("a control message of " + std::to_string(bytes.size()) + " bytes, less than its " +
                    std::to_string(kControlHeaderSize) + "-byte header");
    return message(get<uint32_t>(bytes, 0), static_cast<ControlEvent>(get<uint16_t>(bytes, 4)),
                   get<uint16_t>(bytes, 6));
}

ConsoleControl::ConsoleControl(std::vector<std::optional<ConsolePortInfo>> ports) {
    for (auto& info : ports)
        ports_.push_back(info ? std::optional<Port>(Port{std::move(*info)}) : std::nullopt);
}

ErrorOr<std::vector<ControlMessage>> ConsoleControl::handle(const ControlMessage& message) {
    switch (message.event) {
        case ControlEvent::device_ready: {
            // Linux sends it with the id VIRTIO_CONSOLE_BAD_ID: the id means nothing here.
            if (message.value != 1) log::warn("virtio-console: the guest's driver failed to start");
            if (message.value != 1 || device_ready_) return std::vector<ControlMessage>{};
            device_ready_ = true;
            std::vector<ControlMessage> added;
            for (uint32_t id = 0; id < ports_.size(); ++id)
                if (ports_[id]) added.push_back(microvm::message(id, ControlEvent::port_add, 1));
            return added;
        }
        case ControlEvent::port_ready: {
            Port* port = TRY(added_port(message));
            if (message.value != 1)
                log::warn("virtio-console: the guest failed to add port " + port->info.name);
            if (message.value != 1 || port->ready) return std::vector<ControlMessage>{};
            return port_ready(message.id, *port);
        }
        case ControlEvent::port_open: {
            Port* port = TRY(added_port(message));
            if (!port->ready)
                return fail("PORT_OPEN for port " + std::to_string(message.id) + " before its PORT_READY");
            port->guest_open = message.value != 0;
            return std::vector<ControlMessage>{};
        }
        // Events that only a device sends, or that need no answer: dropped, as QEMU drops them.
        default: return std::vector<ControlMessage>{};
    }
}

// A message about a port must name one the device added.
ErrorOr<ConsoleControl::Port*> ConsoleControl::added_port(const ControlMessage& message) {
    if (message.id >= ports_.size() || !ports_[message.id] || !device_ready_)
        return fail("control event " + std::to_string(static_cast<uint16_t>(message.event)) + " for port " +
                    std::to_string(message.id) + ", which the device did not add");
    return &*ports_[message.id];
}

std::vector<ControlMessage> ConsoleControl::port_ready(uint32_t id, Port& port) {
    port.ready = true;
    std::vector<ControlMessage> answers;
    if (port.info.console) answers.push_back(message(id, ControlEvent::console_port, 1));
    if (!port.info.name.empty()) answers.push_back(message(id, ControlEvent::port_name, 1, port.info.name));
    if (port.host_open) answers.push_back(message(id, ControlEvent::port_open, 1));
    return answers;
}

std::optional<ControlMessage> ConsoleControl::host_closed(uint32_t id) {
    if (id >= ports_.size() || !ports_[id] || !ports_[id]->host_open) return std::nullopt;
    ports_[id]->host_open = false;
    if (!ports_[id]->ready) return std::nullopt;  // PORT_READY will not say it is open
    return message(id, ControlEvent::port_open, 0);
}

void ConsoleControl::reset() {
    device_ready_ = false;
    for (auto& port : ports_)
        if (port) port->ready = port->guest_open = false;
}

bool ConsoleControl::guest_open(uint32_t id) const {
    return id < ports_.size() && ports_[id] && ports_[id]->ready && ports_[id]->guest_open;
}

bool ConsoleControl::host_open(uint32_t id) const {
    return id < ports_.size() && ports_[id] && ports_[id]->host_open;
}

}  // namespace hutch::microvm
