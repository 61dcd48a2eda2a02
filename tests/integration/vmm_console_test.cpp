// The builtin VMM's virtio-console (microvm/virtio_console.h) with the freestanding test guest's
// multiport driver (tests/vm-guests/console.c): the ports the guest agent looks for, each on a
// socketpair whose other end the test holds. Each test skips, saying so, where /dev/kvm cannot be
// used.
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/run_vm.h"
#include "vmm_guest.h"

using hutch::UniqueFd;
using hutch::microvm::ConsolePort;
using hutch::microvm::VmConfig;
using hutch::test::GuestRun;

namespace {

// A port's two ends: the VMM's, and the test's.
struct Channel {
    UniqueFd vmm, host;
    Channel() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        vmm.reset(fds[0]);
        host.reset(fds[1]);
    }
};

// Reads `fd` to its end (the VMM's end closed) on a thread of its own.
class Drain {
public:
    explicit Drain(int fd)
        : thread_([this, fd] {
              char buffer[65536];
              ssize_t n;
              while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
                  bytes_.append(buffer, static_cast<size_t>(n));
          }) {}
    ~Drain() { join(); }
    const std::string& join() {
        if (thread_.joinable()) thread_.join();
        return bytes_;
    }

private:
    std::string bytes_;
    std::thread thread_;
};

// Writes `bytes` into `fd` on a thread of its own; a peer that closes ends it (EPIPE).
class Feed {
public:
    Feed(int fd, std::string bytes)
        : bytes_(std::move(bytes)), thread_([this, fd] {
              for (size_t done = 0; done < bytes_.size();) {
                  ssize_t n = ::send(fd, bytes_.data() + done, bytes_.size() - done, MSG_NOSIGNAL);
                  if (n <= 0) return;
                  done += static_cast<size_t>(n);
              }
          }) {}
    ~Feed() { thread_.join(); }

private:
    std::string bytes_;
    std::thread thread_;
};

std::string random_bytes(size_t n) {
    std::mt19937_64 random(std::random_device{}());
    std::string bytes(n, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(random());
    return bytes;
}

uint32_t fnv1a(std::string_view bytes) {
    uint32_t hash = 2166136261u;
    for (unsigned char byte : bytes) hash = (hash ^ byte) * 16777619u;
    return hash;
}

// The VMM's warnings go to stderr (base/log.h): taken, while the object lives, into a memfd.
class CapturedStderr {
public:
    CapturedStderr() : file_(::memfd_create("stderr", MFD_CLOEXEC)), saved_(::dup(STDERR_FILENO)) {
        REQUIRE((file_.valid() && saved_.valid()));
        REQUIRE(::dup2(file_.get(), STDERR_FILENO) == STDERR_FILENO);
    }
    ~CapturedStderr() { ::dup2(saved_.get(), STDERR_FILENO); }
    std::string text() const {
        ::lseek(file_.get(), 0, SEEK_SET);
        return hutch::read_all(file_.get()).value_or("");
    }

private:
    UniqueFd file_, saved_;
};

// The agent's two ports, named as it looks for them, and port 0 the console when `hvc`.
struct Ports {
    Channel console, control, input;
    VmConfig config(bool hvc) {
        VmConfig config;
        if (hvc) config.console_ports.push_back({"", console.vmm.get(), true});
        config.console_ports.push_back({"hutch.control", control.vmm.get()});
        config.console_ports.push_back({"hutch.stdin", input.vmm.get()});
        return config;
    }
    // After the VM: the test's threads see the VMM's ends close.
    void close_vmm_ends() {
        console.vmm.reset();
        control.vmm.reset();
        input.vmm.reset();
    }
};

// The test guest's test=console with the agent's two ports, given a minute: a software KVM
// (kvm_pvm) takes some seconds for 256 KiB.
GuestRun run_console_guest(const std::string& cmdline, VmConfig config) {
    config.timeout = std::chrono::seconds(60);
    return hutch::test::run_guest("test=console ports=hutch.control,hutch.stdin max_ports=3 " + cmdline,
                                  config);
}

}  // namespace

TEST_CASE("the guest talks over the stdio channel: what goes into hutch.stdin comes back on hutch.control",
          "[vmm]") {
    REQUIRE_KVM();
    // 256 KiB: 64 of the guest's 4 KiB buffers, four times the 16 it has out at once, and more than
    // a socket holds, so both directions wait on the other at times.
    std::string input = random_bytes(256 * 1024);
    Ports ports;
    GuestRun run{0, ""};
    std::chrono::duration<double> took{};
    std::string echoed, hvc;
    {
        Drain control(ports.control.host.get()), console(ports.console.host.get());
        Feed feed(ports.input.host.get(), input);
        auto start = std::chrono::steady_clock::now();
        run = run_console_guest(
            "hvc=1 op=echo n=" + std::to_string(input.size()) + " sum=" + std::to_string(fnv1a(input)),
            ports.config(true));
        took = std::chrono::steady_clock::now() - start;
        ports.close_vmm_ends();
        echoed = control.join();
        hvc = console.join();
    }
    INFO(run.console);
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK_THAT(run.console, Catch::Contains("guest: console ports ready\n"));
    CHECK_THAT(run.console,
               Catch::Contains("guest: echoed 262144 bytes, checksum " + std::to_string(fnv1a(input))));
    CHECK(echoed.size() == input.size());
    CHECK(echoed == input);
    CHECK(hvc == "guest: hello on hvc0\n");
    WARN("256 KiB echoed through the guest, boot to exit, in " << took.count() << " s");
}

TEST_CASE("the host closing its end of a port closes it for the guest, after every byte before it", "[vmm]") {
    REQUIRE_KVM();
    Ports ports;
    std::string input = random_bytes(10000);  // fits in the socket: written before the VM starts
    REQUIRE(::send(ports.input.host.get(), input.data(), input.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(input.size()));
    ports.input.host.reset();
    auto run = run_console_guest("op=close n=10000", ports.config(false));
    ports.close_vmm_ends();
    INFO(run.console);
    REQUIRE(run.exit_code);
    CHECK(*run.exit_code == 0);
    CHECK_THAT(run.console, Catch::Contains("guest: stdin closed by the host after 10000 bytes\n"));
}

TEST_CASE("a hostile console driver stops the device, which a reset brings back, and the VMM goes on",
          "[vmm]") {
    REQUIRE_KVM();
    struct Case {
        std::string kind, reason;
    };
    for (const auto& [kind, reason] :
         {Case{"bad_control", "control event 3 for port 99, which the device did not add"},
          Case{"short_control", "a control message of 4 bytes, less than its 8-byte header"},
          Case{"outside_ram", "transmit chain 0 has a buffer outside RAM"}}) {
        INFO(kind);
        Ports ports;
        GuestRun run{0, ""};
        std::string warnings;
        {
            CapturedStderr captured;
            run = run_console_guest("op=hostile kind=" + kind, ports.config(false));
            warnings = captured.text();
        }
        ports.close_vmm_ends();
        INFO(run.console);
        REQUIRE(run.exit_code);
        CHECK(*run.exit_code == 0);
        CHECK_THAT(run.console, Catch::Contains("guest: console device needs reset\n"));
        CHECK_THAT(run.console, Catch::Contains("guest: console works again after a reset\n"));
        CHECK_THAT(warnings,
                   Catch::Contains("virtio device 3 needs a reset: queue ") && Catch::Contains(reason));
    }
}

TEST_CASE("console ports that cannot work fail the VM in one line", "[vmm]") {
    REQUIRE_KVM();
    Channel channel;
    UniqueFd file(::memfd_create("not-a-socket", MFD_CLOEXEC));
    REQUIRE(file.valid());
    VmConfig config;
    config.console_ports.push_back({"hutch.stdin", file.get()});
    auto run = run_console_guest("op=echo", config);
    REQUIRE_FALSE(run.exit_code);
    CHECK(run.exit_code.error().message == "console port hutch.stdin: fd " + std::to_string(file.get()) +
                                               " is not a usable socket: Socket operation on non-socket");

    config.console_ports = {{"hutch.stdin", channel.vmm.get()}, {"hutch.stdin", channel.vmm.get()}};
    run = run_console_guest("op=echo", config);
    REQUIRE_FALSE(run.exit_code);
    CHECK(run.exit_code.error().message == "console port hutch.stdin: named twice");
}
