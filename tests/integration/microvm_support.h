// What the microVM tests share (microvm_qemu_test.cpp, microvm_debian_test.cpp): whether QEMU can
// run here, the guest kernel, the processes a test's VM left, and a VM's command run in the
// background for the tests that act while it runs.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace hutch::test {

inline bool on_path(const std::string& tool) {
    return shell("command -v " + tool + " >/dev/null").status == 0;
}

// Why the VM cannot run here, or nothing.
inline std::optional<std::string> missing_vm_tool() {
    if (!on_path("qemu-system-x86_64")) return "qemu-system-x86_64 is missing (qemu-system-x86)";
    if (!on_path("mkfs.erofs")) return "mkfs.erofs is missing (erofs-utils)";
    return std::nullopt;
}

// The guest kernel as the vm tests get it: build.sh prints its directory (built by the fixture
// "vm: guest kernel is built" already, so this is its fast path).
inline std::string guest_kernel() {
    if (const char* kernel = std::getenv("HUTCH_GUEST_KERNEL")) return kernel;
    auto built = run_command({std::string(HUTCH_SOURCE_DIR) + "/microvm/guest-kernel/build.sh"});
    REQUIRE(built.status == 0);
    std::string dir = built.out.substr(0, built.out.find('\n'));
    return dir + "/vmlinux";
}

// What fd gives until it holds needle, closes, or limit passes.
inline std::string read_fd_until(int fd, const std::string& needle, std::chrono::seconds limit) {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 500) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

// A command (hutch-vm-run's, hutch's) started with its stdout on a pipe, and its stderr too when
// asked, or on a terminal of the test's own (run -t), for the tests that act while it runs. Killed
// and reaped when it goes out of scope.
struct RunningVm {
    pid_t pid = -1;
    int out = -1, err = -1;
    // On a terminal: out is the pty's master (read its output, write what is typed), tty its other
    // end (the command's stdin, stdout and stderr, and its controlling terminal), as it was
    // before the command started.
    int tty = -1;
    termios tty_before{};
    explicit RunningVm(const std::vector<std::string>& argv, bool pipe_stderr = false) {
        int out_fds[2], err_fds[2] = {-1, -1};
        REQUIRE(::pipe2(out_fds, O_CLOEXEC) == 0);
        if (pipe_stderr) REQUIRE(::pipe2(err_fds, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, out_fds[1], 1);
        if (pipe_stderr) posix_spawn_file_actions_adddup2(&actions, err_fds[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out_fds[1]);
        out = out_fds[0];
        if (pipe_stderr) {
            ::close(err_fds[1]);
            err = err_fds[0];
        }
        REQUIRE(rc == 0);
    }
    // On a new pty of size, in a session of its own.
    RunningVm(const std::vector<std::string>& argv, winsize size) {
        out = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        REQUIRE(out >= 0);
        REQUIRE(::grantpt(out) == 0);
        REQUIRE(::unlockpt(out) == 0);
        REQUIRE(::ioctl(out, TIOCSWINSZ, &size) == 0);
        std::string replica = ::ptsname(out);
        tty = ::open(replica.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
        REQUIRE(tty >= 0);
        REQUIRE(::tcgetattr(tty, &tty_before) == 0);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
        // Opened in the new session without O_NOCTTY: the command's controlling terminal.
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, replica.c_str(), O_RDWR, 0);
        posix_spawn_file_actions_adddup2(&actions, 0, 1);
        posix_spawn_file_actions_adddup2(&actions, 0, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        REQUIRE(rc == 0);
    }
    ~RunningVm() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        ::close(out);
        if (err >= 0) ::close(err);
        if (tty >= 0) ::close(tty);
    }
    // Reads fd (stdout unless told) until it holds needle, it closes, or 120 s pass (a TCG boot
    // on a busy host).
    std::string read_until(const std::string& needle, int fd = -1) {
        return read_fd_until(fd < 0 ? out : fd, needle, std::chrono::seconds(120));
    }
    int wait() {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        pid = -1;
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    // wait(), for at most `limit`: nothing when the command still runs then (the destructor kills
    // it), so that a VM that hangs fails the test long before ctest's timeout.
    std::optional<int> wait_within(std::chrono::seconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            int status = 0;
            pid_t done = ::waitpid(pid, &status, WNOHANG);
            REQUIRE(done >= 0);
            if (done == pid) {
                pid = -1;
                return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            }
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            ::usleep(20 * 1000);
        }
    }
};

// The first line of `uname -r` on this host.
inline std::string host_release() {
    std::string release = shell("uname -r").out;
    return release.substr(0, release.find('\n'));
}

}  // namespace hutch::test

#define SKIP_WITHOUT_QEMU()                 \
    if (auto missing = missing_vm_tool()) { \
        WARN("skipped: " + *missing);       \
        return;                             \
    }
