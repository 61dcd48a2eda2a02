// Reaching systemd: the system bus (dbus-daemon), or systemd's private socket where there is none.
#include <cstring>

#include "cgroups/systemd_bus/bus.h"

namespace hutch::systemd_bus {
namespace {

constexpr const char* kPrivateSocket = "/run/systemd/private";

std::string errno_text(int r) { return std::strerror(-r); }

// A system bus can be up without systemd on it (a container with its own dbus-daemon).
ErrorOr<void> check_systemd_is_on(sd_bus* bus) {
    BusError error;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error.error, &raw, "s", "org.freedesktop.systemd1");
    Message reply(raw);
    if (r < 0) return fail(error.text(r));
    int owned = 0;
    if ((r = sd_bus_message_read(reply.get(), "b", &owned)) < 0) return fail(errno_text(r));
    if (!owned) return fail("org.freedesktop.systemd1 is not on it");
    return {};
}

ErrorOr<Bus> open_system_bus() {
    sd_bus* raw = nullptr;
    int r = sd_bus_open_system(&raw);
    Bus bus(raw);
    if (r < 0) return fail(errno_text(r));
    TRY(check_systemd_is_on(bus.get()));
    return bus;
}

// systemd's own socket, with no bus daemon between: what systemctl uses as root.
ErrorOr<Bus> open_private_socket() {
    sd_bus* raw = nullptr;
    int r = sd_bus_new(&raw);
    Bus bus(raw);
    if (r < 0) return fail(errno_text(r));
    if ((r = sd_bus_set_address(bus.get(), (std::string("unix:path=") + kPrivateSocket).c_str())) < 0)
        return fail(errno_text(r));
    if ((r = sd_bus_start(bus.get())) < 0) return fail(errno_text(r));
    return bus;
}

}  // namespace

std::string BusError::text(int r) const {
    if (sd_bus_error_is_set(&error) && error.message) return error.message;
    if (sd_bus_error_is_set(&error)) return error.name;
    return errno_text(r);
}

ErrorOr<Connection> connect_systemd() {
    auto system = open_system_bus();
    if (system) return Connection{std::move(*system), "system bus"};
    auto direct = open_private_socket();
    if (direct) return Connection{std::move(*direct), kPrivateSocket};
    const char* address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    std::string system_name = address ? address : "/run/dbus/system_bus_socket";
    return fail("--systemd-cgroup: systemd is not reachable over D-Bus (" + system_name + ": " +
                system.error().message + "; " + kPrivateSocket + ": " + direct.error().message +
                "): is systemd PID 1?");
}

}  // namespace hutch::systemd_bus
