// What every integration test needs: run a command and capture it, make a bundle from the busybox
// rootfs, and drive hutch-oci with a --root of the test's own. Everything a test makes is removed
// by destructors, whether the test passes or fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hutch::test {

struct CommandResult {
    int status = -1;  // exit code, or 128+signal
    std::string out;
    std::string err;
};

// Runs argv (no shell), feeding stdin_data, and waits for it.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "");
// Runs a shell command line with /bin/sh -c.
CommandResult shell(const std::string& command_line);

// A fresh directory under /tmp, removed (recursively) when it goes out of scope.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "hutch-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The busybox rootfs built once per test run by examples/busybox/make-rootfs.sh.
const std::string& busybox_rootfs();

// A bundle: a copy of the busybox rootfs plus a config.json from `hutch-oci spec`, editable as
// JSON before it is written with save().
class Bundle {
public:
    Bundle();
    const std::string& path() const { return dir_.path(); }
    std::string rootfs() const { return dir_.path() + "/rootfs"; }
    nlohmann::json config;
    // Sets process.args (and turns the terminal off, which `spec` turns on).
    void set_args(const std::vector<std::string>& args);
    void save() const;

private:
    TempDir dir_;
};

// hutch-oci with a --root of its own; the destructor force-deletes every container left in it,
// so no process, mount, cgroup or state directory outlives the test.
class Runtime {
public:
    // global_flags go before each command, after --root ("--systemd-cgroup").
    explicit Runtime(std::vector<std::string> global_flags = {});
    ~Runtime();
    const std::string& root() const { return root_.path(); }
    CommandResult operator()(const std::vector<std::string>& args, const std::string& stdin_data = "") const;
    // `state ID` parsed; an empty object when the command fails.
    nlohmann::json state(const std::string& id) const;

private:
    TempDir root_;
    std::vector<std::string> global_flags_;
};

// Runs `sh -c script` in a fresh container made from bundle's config (with a runtime of its
// own); returns the run's result.
CommandResult run_script(Bundle& bundle, const std::string& script);

// Polls `state ID` until the container's status is want (or kPatience passes); returns the last
// status seen ("" when state failed).
std::string wait_for_status(const Runtime& rt, const std::string& id, const std::string& want);

// "HUTCH_OCI_BINARY --root ROOT": the start of a shell command line that drives rt's hutch-oci.
std::string hutch_oci_command(const Runtime& rt);

// A --console-socket listener, as podman's conmon and containerd's shim hold one.
class ConsoleSocket {
public:
    ConsoleSocket();
    ~ConsoleSocket();
    ConsoleSocket(const ConsoleSocket&) = delete;
    ConsoleSocket& operator=(const ConsoleSocket&) = delete;
    std::string path() const { return dir_.path() + "/console.sock"; }
    // Accepts one connection and returns the pty master it carries (owned by the caller), or -1.
    int receive_master();

private:
    TempDir dir_;
    int listener_ = -1;
};

// One message received on a unix socket connection: its bytes and the fd it carried (-1: none).
struct ReceivedFd {
    std::string payload;
    int fd = -1;
};
ReceivedFd receive_fd(int conn);

// How long a test waits for something it expects to happen. Generous, as waits return as soon as
// it does: the sanitizer build in the VM test bed's emulated guest is tens of times slower.
inline constexpr std::chrono::seconds kPatience{60};

// Polls done() every 10 ms until it holds (true) or timeout passes (false).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = kPatience);

// Reads fd until its text contains needle, it closes, or kPatience passes.
std::string read_until(int fd, const std::string& needle);

// A container id unique to this test run.
std::string unique_id(const std::string& stem = "hutch-test");

// A file's text with trailing blanks and newlines trimmed ("" when it cannot be read): for
// cgroup and /proc files.
std::string read_text(const std::string& path);
bool path_exists(const std::string& path);

// True when pid names a live process.
bool process_alive(pid_t pid);
// Lines of /proc/self/mountinfo that mention needle.
std::vector<std::string> host_mounts_matching(const std::string& needle);
// The pids of the processes (this one left out) whose command line mentions needle: a test's own
// directory names what it started (a QEMU, a relay, a hutch), to check or to kill.
std::vector<pid_t> processes_mentioning(const std::string& needle);

}  // namespace hutch::test
