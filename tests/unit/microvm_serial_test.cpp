// The UART's registers (microvm/serial.h) without KVM: host input through the receive FIFO and its
// room, the line status, the interrupt identification's priorities, and the interrupt line as
// the IIR's causes come and go.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/serial.h"
#include "microvm/serial_input.h"

using namespace hutch::microvm;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kData = 0, kIer = 1, kIir = 2, kFcr = 2, kMcr = 4, kLsr = 5;

// A UART with its hooks recorded.
struct Uart {
    std::vector<bool> levels;  // each change of the interrupt line
    int wants_input = 0;
    Serial serial{-1,
                  Serial::Hooks{[this](bool level) { levels.push_back(level); }, [this] { ++wants_input; }}};

    uint8_t in(uint64_t offset) {
        uint8_t value = 0;
        serial.read(offset, {&value, 1});
        return value;
    }
    void out(uint64_t offset, uint8_t value) { serial.write(offset, {&value, 1}); }
    void receive(const std::string& bytes) {
        serial.receive({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    }
    bool line() const { return !levels.empty() && levels.back(); }
};

}  // namespace

TEST_CASE("the UART's receive FIFO holds 16 bytes with FIFOs on, 1 without", "[microvm]") {
    Uart uart;
    CHECK(uart.serial.input_room() == 1);
    uart.out(kFcr, 0x01);
    CHECK(uart.serial.input_room() == 16);
    uart.receive("0123456789abcdefXYZ");  // three past the room: dropped, never buffered
    CHECK(uart.serial.input_room() == 0);
    std::string read;
    while (uart.in(kLsr)&0x01) read.push_back(static_cast<char>(uart.in(kData)));
    CHECK(read == "0123456789abcdef");
    CHECK(uart.serial.input_room() == 16);
    CHECK((uart.in(kLsr)&0x03) == 0);  // no data, no overrun
}

TEST_CASE("the UART asks for input once the guest makes room in a full FIFO", "[microvm]") {
    Uart uart;
    uart.receive("a");
    CHECK(uart.wants_input == 0);
    CHECK(uart.serial.input_room() == 0);  // full: the input waits for the hook
    CHECK(uart.in(kData) == 'a');
    CHECK(uart.wants_input == 1);
    CHECK(uart.in(kData) == 0);  // an empty FIFO reads as 0 and asks nothing more
    CHECK(uart.wants_input == 1);

    SECTION("turning the FIFOs on makes room too") {
        uart.receive("b");
        CHECK(uart.serial.input_room() == 0);
        uart.out(kFcr, 0x07);
        CHECK(uart.wants_input == 2);
        CHECK((uart.in(kLsr)&0x01) == 0);  // enabling the FIFOs empties them
    }
    SECTION("in loopback the host's input is cut off, and comes back after") {
        uart.out(kMcr, 0x10);
        CHECK(uart.serial.input_room() == 0);
        uart.out(kData, 'L');  // looped back into the receive side
        CHECK(uart.in(kData) == 'L');
        CHECK(uart.wants_input == 1);  // still in loopback
        uart.out(kMcr, 0x00);
        CHECK(uart.wants_input == 2);
    }
}

TEST_CASE("a looped-back byte that finds the FIFO full is an overrun", "[microvm]") {
    Uart uart;
    uart.out(kIer, 0x04);  // receiver line status
    uart.out(kMcr, 0x10);
    uart.out(kData, 'a');
    uart.out(kData, 'b');
    CHECK(uart.line());
    CHECK((uart.in(kIir)&0x0f) == 0x06);
    CHECK(uart.in(kLsr) == 0x63);  // data ready, overrun, transmitter empty
    CHECK_FALSE(uart.line());      // reading LSR cleared it
    CHECK(uart.in(kLsr) == 0x61);
    CHECK(uart.in(kData) == 'a');
}

TEST_CASE("the UART's IIR reports the highest cause, and the line follows it", "[microvm]") {
    Uart uart;
    CHECK(uart.in(kIir) == 0x01);
    uart.out(kFcr, 0x01);
    CHECK(uart.in(kIir) == 0xc1);  // no interrupt, FIFOs on
    uart.receive("xy");
    CHECK(uart.levels.empty());  // data waits, but IER enables nothing
    CHECK(uart.in(kIir) == 0xc1);

    uart.out(kIer, 0x03);  // received data and THR empty
    CHECK(uart.levels == std::vector<bool>{true});
    CHECK(uart.in(kIir) == 0xc4);  // received data beats THR empty
    CHECK(uart.in(kIir) == 0xc4);  // and reading IIR does not clear it
    uart.in(kData);
    uart.in(kData);
    CHECK(uart.line());            // THR empty is still pending
    CHECK(uart.in(kIir) == 0xc2);  // reported once ...
    CHECK_FALSE(uart.line());      // ... which clears it
    CHECK(uart.in(kIir) == 0xc1);
    CHECK(uart.levels == std::vector<bool>{true, false});

    uart.out(kData, '!');  // the THR empties again at once
    CHECK(uart.line());
    CHECK(uart.in(kIir) == 0xc2);
    uart.out(kIer, 0x00);
    CHECK_FALSE(uart.line());
}

TEST_CASE("below the trigger level the UART reports a character timeout", "[microvm]") {
    Uart uart;
    uart.out(kFcr, 0x81);  // FIFOs on, trigger at 8 bytes
    uart.out(kIer, 0x01);
    uart.receive("1234567");
    CHECK(uart.in(kIir) == 0xcc);
    uart.receive("8");
    CHECK(uart.in(kIir) == 0xc4);
    CHECK(uart.levels == std::vector<bool>{true});  // one cause after the other: the line stays up
    for (int i = 0; i < 8; ++i) uart.in(kData);
    CHECK(uart.in(kIir) == 0xc1);
    CHECK(uart.levels == std::vector<bool>{true, false});
}

TEST_CASE("enabling the THR-empty interrupt raises it at once", "[microvm]") {
    Uart uart;
    uart.out(kIer, 0x02);
    CHECK(uart.line());
    CHECK(uart.in(kIir) == 0x02);
    CHECK_FALSE(uart.line());
    uart.out(kIer, 0x02);  // still enabled: nothing new
    CHECK(uart.in(kIir) == 0x01);
}

namespace {

int unread(int fd) {
    int n = -1;
    REQUIRE(::ioctl(fd, FIONREAD, &n) == 0);
    return n;
}

}  // namespace

TEST_CASE("serial input takes from its pipe only what the UART's FIFO has room for", "[microvm]") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    hutch::UniqueFd reader(fds[0]), writer(fds[1]);
    std::string bytes;
    for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 7 + i / 256));
    REQUIRE(hutch::write_all(writer.get(), bytes));

    auto created = SerialInput::create(reader.get());
    REQUIRE(created);
    SerialInput& input = **created;
    std::vector<bool> levels;
    Serial serial(-1, {[&](bool level) { levels.push_back(level); }, [&] { input.wants_input(); }});
    struct StopFirst {  // the input's thread feeds `serial`: stopped before it goes
        SerialInput& input;
        ~StopFirst() { input.stop(); }
    } stop_first{input};
    auto out = [&](uint64_t offset, uint8_t value) { serial.write(offset, {&value, 1}); };
    auto in = [&](uint64_t offset) {
        uint8_t value = 0;
        serial.read(offset, {&value, 1});
        return value;
    };
    out(kFcr, 0x01);
    out(kIer, 0x01);
    REQUIRE(input.start(serial));

    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (unread(reader.get()) > 1000 - 16 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);  // time to take more, which it must not
    CHECK(unread(reader.get()) == 1000 - 16);
    CHECK(levels == std::vector<bool>{true});

    std::string got;
    while (got.size() < bytes.size() && std::chrono::steady_clock::now() < deadline) {
        if (in(kLsr)&0x01)
            got.push_back(static_cast<char>(in(kData)));
        else
            std::this_thread::sleep_for(100us);
    }
    CHECK(got == bytes);
    CHECK_FALSE(levels.back());  // up and down as the FIFO filled and emptied, down once drained

    writer.reset();  // end of file: nothing more, no error
    std::this_thread::sleep_for(20ms);
    CHECK((in(kLsr)&0x01) == 0);
}

TEST_CASE("serial input refuses an fd it cannot wait on", "[microvm]") {
    hutch::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(null.valid());
    auto created = SerialInput::create(null.get());
    REQUIRE_FALSE(created);
    CHECK(created.error().message ==
          "serial input: fd " + std::to_string(null.get()) + ": not a pipe, socket or terminal");
}
