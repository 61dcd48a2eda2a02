// The UART's host input (microvm/serial_input.h) with the freestanding test guest: bytes from a
// socket the test writes reach the guest through LSR and RBR whole and in order, its IIR reports
// them, and a guest that does not read holds the writer back instead of the VMM buffering. Each
// test skips, saying so, where /dev/kvm cannot be used.
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "base/fd.h"
#include "base/file.h"
#include "harness.h"
#include "microvm/run_vm.h"
#include "microvm/serial.h"
#include "vmm_guest.h"

using hutch::UniqueFd;
using hutch::microvm::VmConfig;
using namespace std::chrono_literals;

namespace {

// The guest on a thread of its own, its console in a memfd the test can watch, its serial input
// the VMM's end of a socketpair whose other end (`host`) the test writes.
class SerialGuest {
public:
    explicit SerialGuest(const std::string& cmdline) : console_(::memfd_create("vm-console", MFD_CLOEXEC)) {
        REQUIRE(console_.valid());
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        vmm_.reset(fds[0]);
        host_.reset(fds[1]);
        VmConfig config;
        config.kernel = HUTCH_VM_GUEST;
        config.cmdline = cmdline;
        config.console_fd = console_.get();
        config.serial_input_fd = vmm_.get();
        config.timeout = 20s;
        thread_ = std::thread([this, config] {
            exit_code_ = hutch::microvm::run_vm(config);
            done_ = true;
        });
    }
    ~SerialGuest() { join(); }

    int host() const { return host_.get(); }
    int vmm() const { return vmm_.get(); }
    bool done() const { return done_; }
    std::string console() const {
        std::string text(4096, '\0');
        ssize_t n = ::pread(console_.get(), text.data(), text.size(), 0);
        text.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return text;
    }
    // Until the guest set its UART up (its FIFOs emptied), or it ended: what it sends before is lost.
    bool wait_ready() const {
        while (!done_) {
            if (console().find("guest: serial input ready\n") != std::string::npos) return true;
            std::this_thread::sleep_for(1ms);
        }
        return false;
    }
    const hutch::ErrorOr<int>& join() {
        if (thread_.joinable()) thread_.join();
        return *exit_code_;
    }

private:
    UniqueFd console_, vmm_, host_;
    std::optional<hutch::ErrorOr<int>> exit_code_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

// Sends `bytes` to the guest's input as fast as it takes them, until all went or the guest ended.
// Returns how many went.
size_t send_while_running(const std::string& bytes, const SerialGuest& guest) {
    size_t sent = 0;
    int fd = guest.host();
    while (sent < bytes.size() && !guest.done()) {
        pollfd writable = {fd, POLLOUT, 0};
        if (::poll(&writable, 1, 10) <= 0) continue;
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    return sent;
}

// What waits unread in `fd`, taken without blocking.
size_t unread(int fd) {
    size_t total = 0;
    char buffer[65536];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0) total += static_cast<size_t>(n);
    return total;
}

std::string expected_line(const std::string& bytes) {
    return "guest: serial input: " + std::to_string(bytes.size()) + " bytes, fnv1a " +
           std::to_string(hutch::test::fnv1a(bytes)) + "\n";
}

}  // namespace

TEST_CASE("64 KiB of host input reach the guest's UART whole and in order", "[vmm]") {
    REQUIRE_KVM();
    // Through the 16-byte FIFO, and a byte at a time without it.
    auto [fifo, size] = GENERATE(table<int, size_t>({{1, 64 * 1024}, {0, 4096}}));
    std::string bytes = hutch::test::random_disk(size / 512);
    SerialGuest guest("test=serial_input n=" + std::to_string(size) + " fifo=" + std::to_string(fifo));
    size_t sent = 0;
    if (guest.wait_ready()) sent = send_while_running(bytes, guest);
    const auto& exit_code = guest.join();
    INFO("console:\n" << guest.console());
    INFO((exit_code ? std::string() : exit_code.error().message));
    REQUIRE(exit_code);
    CHECK(*exit_code == 0);
    CHECK(sent == bytes.size());
    CHECK_THAT(guest.console(), Catch::Contains(expected_line(bytes)));
}

TEST_CASE("the guest's UART reports received data in IIR, and no interrupt once drained", "[vmm]") {
    REQUIRE_KVM();
    std::string bytes = "hello, uart";
    SerialGuest guest("test=serial_iir n=" + std::to_string(bytes.size()));
    if (guest.wait_ready()) send_while_running(bytes, guest);
    const auto& exit_code = guest.join();
    INFO("console:\n" << guest.console());
    INFO((exit_code ? std::string() : exit_code.error().message));
    REQUIRE(exit_code);
    CHECK(*exit_code == 0);
}

TEST_CASE("a guest that does not read holds back 1 MiB of host input, not the VMM", "[vmm]") {
    REQUIRE_KVM();
    std::string bytes = hutch::test::random_disk(2048);  // 1 MiB
    SerialGuest guest("test=serial_stall code=7");
    size_t sent = 0;
    if (guest.wait_ready()) sent = send_while_running(bytes, guest);
    const auto& exit_code = guest.join();
    INFO("console:\n" << guest.console());
    INFO((exit_code ? std::string() : exit_code.error().message));
    REQUIRE(exit_code);
    CHECK(*exit_code == 7);
    // The writer was held back by the socket's buffer: the VMM took no more than its FIFO.
    CHECK(sent < bytes.size());
    size_t taken = sent - unread(guest.vmm());
    INFO("sent " << sent << " bytes, the VMM took " << taken);
    CHECK(taken <= hutch::microvm::kSerialFifoSize);
    CHECK(taken > 0);
}

TEST_CASE("hutch-vmm --serial-input gives its stdin to the guest's UART", "[vmm]") {
    REQUIRE_KVM();
    // A byte at a time (fifo=0): the guest empties no FIFO, so all of stdin can be there at once.
    std::string bytes = hutch::test::random_disk(8);
    auto run = hutch::test::run_command({HUTCH_VMM_BINARY, "--kernel", HUTCH_VM_GUEST, "--cmdline",
                                         "test=serial_input fifo=0 n=" + std::to_string(bytes.size()),
                                         "--timeout-ms", "20000", "--serial-input"},
                                        bytes);
    INFO(run.out << run.err);
    CHECK(run.status == 0);
    CHECK_THAT(run.out, Catch::Contains(expected_line(bytes)));
}

TEST_CASE("hutch-vmm --serial-input refuses a stdin it cannot wait on, in one line", "[vmm]") {
    REQUIRE_KVM();  // the input is checked once the VM exists
    auto run = hutch::test::shell(std::string(HUTCH_VMM_BINARY) + " --kernel " + HUTCH_VM_GUEST +
                                  " --cmdline test=exit --serial-input < /dev/null");
    CHECK(run.status == 125);
    CHECK(run.err == "hutch-vmm: serial input: fd 0: not a pipe, socket or terminal\n");
}
