// The multiport virtio-console's control protocol (microvm/console_control.h), without KVM: how
// messages read and write, the device's answers in the order Linux's driver expects them, and
// what a hostile driver's messages get.
#include <catch2/catch.hpp>
#include <cstring>

#include "microvm/console_control.h"

using namespace hutch::microvm;

namespace {

std::vector<uint8_t> header(uint32_t id, uint16_t event, uint16_t value) {
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), &id, 4);
    std::memcpy(bytes.data() + 4, &event, 2);
    std::memcpy(bytes.data() + 6, &value, 2);
    return bytes;
}

ControlMessage msg(uint32_t id, ControlEvent event, uint16_t value, std::string name = {}) {
    return {id, event, value, std::move(name)};
}

// Port 0 the console, 1 and 2 the agent's, as run_vm lays them out.
ConsoleControl agent_ports() {
    return ConsoleControl(
        {ConsolePortInfo{"", true}, ConsolePortInfo{"hutch.control"}, ConsolePortInfo{"hutch.stdin"}});
}

std::vector<ControlMessage> handle(ConsoleControl& control, const ControlMessage& message) {
    auto answers = control.handle(message);
    REQUIRE(answers);
    return *answers;
}

}  // namespace

TEST_CASE("console control messages read and write as the spec lays them out", "[microvm]") {
    CHECK(encode_control(msg(2, ControlEvent::port_open, 1)) == header(2, 6, 1));
    auto named = encode_control(msg(1, ControlEvent::port_name, 1, "hutch.control"));
    auto expected = header(1, 7, 1);
    expected.insert(expected.end(), {'h', 'u', 't', 'c', 'h', '.', 'c', 'o', 'n', 't', 'r', 'o', 'l'});
    CHECK(named == expected);  // no NUL: Linux takes the length from the buffer's

    auto parsed = parse_control(header(0xffffffff, 0, 1));
    REQUIRE(parsed);
    CHECK(*parsed == msg(0xffffffff, ControlEvent::device_ready, 1));
    auto longer = header(3, 6, 0);
    longer.push_back(42);  // trailing bytes are ignored
    CHECK(parse_control(longer).value() == msg(3, ControlEvent::port_open, 0));

    auto short_one = parse_control(std::vector<uint8_t>(7));
    REQUIRE_FALSE(short_one);
    CHECK(short_one.error().message == "a control message of 7 bytes, less than its 8-byte header");
}

TEST_CASE("the console's handshake answers as QEMU's virtio-serial does", "[microvm]") {
    auto control = agent_ports();
    CHECK(control.max_ports() == 3);
    CHECK(handle(control, msg(0xffffffff, ControlEvent::device_ready, 1)) ==
          std::vector{msg(0, ControlEvent::port_add, 1), msg(1, ControlEvent::port_add, 1),
                      msg(2, ControlEvent::port_add, 1)});
    CHECK(handle(control, msg(0, ControlEvent::port_ready, 1)) ==
          std::vector{msg(0, ControlEvent::console_port, 1), msg(0, ControlEvent::port_open, 1)});
    CHECK(
        handle(control, msg(1, ControlEvent::port_ready, 1)) ==
        std::vector{msg(1, ControlEvent::port_name, 1, "hutch.control"), msg(1, ControlEvent::port_open, 1)});
    CHECK_FALSE(control.guest_open(1));
    CHECK(handle(control, msg(1, ControlEvent::port_open, 1)).empty());
    CHECK(control.guest_open(1));
    CHECK(handle(control, msg(1, ControlEvent::port_open, 0)).empty());
    CHECK_FALSE(control.guest_open(1));

    // The host closes a port: the guest hears it once; a port it was never told was open is
    // simply not opened at its PORT_READY.
    CHECK(control.host_closed(1) == msg(1, ControlEvent::port_open, 0));
    CHECK(control.host_closed(1) == std::nullopt);
    CHECK(control.host_closed(2) == std::nullopt);  // not ready yet: nothing to take back
    CHECK(handle(control, msg(2, ControlEvent::port_ready, 1)) ==
          std::vector{msg(2, ControlEvent::port_name, 1, "hutch.stdin")});
    CHECK_FALSE(control.host_open(2));

    // A reset: the driver starts again, and every port is added again.
    control.reset();
    CHECK_FALSE(control.guest_open(1));
    CHECK(handle(control, msg(0, ControlEvent::device_ready, 1)).size() == 3);
}

TEST_CASE("a hostile console driver's control messages are refused or dropped", "[microvm]") {
    auto control = ConsoleControl({std::nullopt, ConsolePortInfo{"hutch.control"}});
    // Before DEVICE_READY no port exists; port 0 (no console here) and 7 never do.
    for (auto id : {1u, 0u, 7u, 0xffffffffu}) {
        auto early = control.handle(msg(id, ControlEvent::port_ready, 1));
        REQUIRE_FALSE(early);
        CHECK(early.error().message ==
              "control event 3 for port " + std::to_string(id) + ", which the device did not add");
        if (id == 1) REQUIRE(handle(control, msg(0, ControlEvent::device_ready, 1)).size() == 1);
    }
    auto opened_early = control.handle(msg(1, ControlEvent::port_open, 1));
    REQUIRE_FALSE(opened_early);
    CHECK(opened_early.error().message == "PORT_OPEN for port 1 before its PORT_READY");
    // Repeats would make the device queue answers without end: dropped.
    CHECK(handle(control, msg(0, ControlEvent::device_ready, 1)).empty());
    CHECK(handle(control, msg(1, ControlEvent::port_ready, 1)).size() == 2);
    CHECK(handle(control, msg(1, ControlEvent::port_ready, 1)).empty());
    // Events only a device sends, and unknown ones, are dropped too.
    for (uint16_t event : {1, 2, 4, 5, 7, 8, 0xffff})
        CHECK(handle(control, msg(1, static_cast<ControlEvent>(event), 1)).empty());
    // A driver that failed (value 0) gets no answer.
    auto failed = agent_ports();
    CHECK(handle(failed, msg(0, ControlEvent::device_ready, 0)).empty());
}
