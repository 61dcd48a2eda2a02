// What the host (microvm/host/) and hutch-agent, PID 1 in the guest, say to each other.
//
// Two virtio-serial ports (virtserialport, found in the guest by name under
// /sys/class/virtio-ports/):
//   hutch.control  framed messages both ways (below);
//   hutch.stdin    the container's stdin, raw bytes, host to guest; the host closing its end is
//                  end of file (the guest's read() returns 0 once the host is disconnected).
// The container's layers are virtio-blk disks, read-only, one erofs image each, told apart by
// their serial: hutch-layer-0 is the bottom layer. Its volumes are virtio-9p shares of host
// directories, by mount tag: hutch-volume-N is GuestConfig::volumes[N].
//
// A frame is a kind byte, the payload's length (4 bytes, little-endian) and the payload.
//   host to guest:  config  (once, first: the JSON of GuestConfig), go (empty, once: start the
//                   process), signal (decimal number), window size (with a terminal:
//                   "ROWSxCOLS", the caller's terminal resized; also before go)
//   guest to host:  prepared (empty: the boot is over, the root mounted and the stdio ports open;
//                   the process starts at go: hutch-oci's create boots, its start says go),
//                   started (empty: the process runs), stdout, stderr (the
//                   process's output, in order; with a terminal, all of it is stdout: the
//                   pty's), then exactly one of
//                   exit (decimal status: the exit code, or 128+N when killed by signal N) or
//                   failure (one line: why the process could not be started).
// Execs, further processes in the running container (hutch-oci exec), go over the same port. Each
// exec frame's payload starts with the exec's number (4 bytes, little-endian; the host numbers
// them) and the rest is as for the first process:
//   host to guest:  exec start (the JSON of a GuestConfig, of which only the process's fields
//                   count: the container's root, cgroup and hostname are the first process's),
//                   exec stdin (bytes for its stdin; none: the end of it), exec signal, exec window
//                   size;
//   guest to host:  exec started, exec stdout, exec stderr, then exec exit or exec failure.
// Two requests about the container's cgroup come the same way, each numbered as an exec of its
// own, and are answered by exec exit ("0") or exec failure (why not):
//   update  (the JSON of GuestLimits: hutch-oci update's new limits, written into the cgroup);
//   stats   (empty: hutch-oci events' counters, sent back first as exec stdout, the JSON of
//           cgroups::Stats);
//   processes  (empty: hutch-oci ps's pids, sent back first as exec stdout, a JSON list: each
//           process of the container's cgroup as the container's pid namespace numbers it).
// An exec's processes die with the VM, which ends with the first process.
// Everything goes over one port in order, so the exit frame comes after the last output: the
// host has the whole output when it reads exit, and may kill the VM then. While the process runs
// the agent writes without blocking and keeps reading the port, so a signal gets in even when the
// host holds back output (its caller not reading it); its last frames it writes blocking, and
// they return only once the VMM has handed the bytes to its socket.
#pragma once

#include <linux/filter.h>
#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroups/manager.h"
#include "microvm/agent/guest_limits.h"

namespace hutch::microvm {

inline constexpr std::string_view control_port_name = "hutch.control";
inline constexpr std::string_view stdin_port_name = "hutch.stdin";
inline constexpr std::string_view layer_serial_prefix = "hutch-layer-";
inline constexpr std::string_view volume_tag_prefix = "hutch-volume-";

enum class FrameKind : uint8_t {
    config = 'C',
    go = 'G',
    signal = 'S',
    window_size = 'W',
    prepared = 'P',
    started = 'R',
    stdout_data = 'O',
    stderr_data = 'E',
    exit = 'X',
    failure = 'F',
    exec_start = 'N',
    exec_stdin = 'I',
    exec_signal = 'K',
    exec_window_size = 'Z',
    exec_started = 'T',
    exec_stdout = 'o',
    exec_stderr = 'e',
    exec_exit = 'x',
    exec_failure = 'f',
    update = 'U',
    stats = 'Q',
    processes = 'L',
};

struct Frame {
    FrameKind kind;
    std::string payload;
};

// No frame is larger: a config is small, and output goes in pieces of a pipe's read.
inline constexpr size_t max_frame_payload = 1 << 20;

std::string encode_frame(FrameKind kind, std::string_view payload);

// An exec frame's payload: the exec's number, then the data.
struct ExecPayload {
    uint32_t exec = 0;
    std::string_view data;
};
std::string encode_exec_frame(FrameKind kind, uint32_t exec, std::string_view data);
// Fails on a payload shorter than the number.
ErrorOr<ExecPayload> parse_exec_payload(std::string_view payload);
// Whether a frame is one the host sends under an exec's number (start, stdin, signal, window size,
// update): what a connection to the exec socket may send.
bool is_host_exec_frame(FrameKind kind);
// Whether it is one that opens an exec's number: start, update, stats or processes, a
// connection's first frame.
bool opens_exec(FrameKind kind);
// Whether it is a request about the container's cgroup (update, stats or processes), which the
// agent answers as an exec that printed the answer and exited 0, or failed.
bool is_cgroup_request(FrameKind kind);

// Cuts a byte stream into frames.
class FrameReader {
public:
    void feed(std::string_view bytes) { buffer_.append(bytes); }
    // The next whole frame, nothing when more bytes are needed, or an error for a frame of an
    // unknown kind or too large (the stream cannot be trusted after that).
    ErrorOr<std::optional<Frame>> next();

private:
    std::string buffer_;
};

// The next whole frame from fd, read blocking; nothing when fd ended first.
ErrorOr<std::optional<Frame>> read_frame(int fd, FrameReader& reader);

// A resource limit of the process: the resource's number (RLIMIT_NOFILE...), the same in the guest
// as on the host, both being Linux on the same architecture.
struct GuestRlimit {
    int resource = 0;
    uint64_t soft = 0, hard = 0;
};

// A host directory shared into the container (-v, a bind mount), mounted at path.
struct GuestVolume {
    std::string path;  // absolute, in the container
    bool readonly = false;
};

// A file put in the container's root before the process starts (a file's bind mount, copied in
// at create): at path, with mode's permission bits, owned by root.
struct GuestFile {
    std::string path;  // absolute, in the container
    std::string content;
    uint32_t mode = 0644;
};

// A terminal's size, in characters.
struct WindowSize {
    uint16_t rows = 0, cols = 0;
};

// The process's capability sets as bit masks (bit N: capability N), made on the host from the
// names (runtime/capabilities.cpp): the numbers are the same in the guest's kernel.
struct GuestCapabilities {
    uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

// A seccomp filter the host built (runtime/seccomp.cpp: libseccomp's program after the ENOSYS
// stub), which the agent loads as it is: host and guest are Linux on the same architecture, so
// the guest needs no libseccomp.
struct GuestSeccomp {
    std::vector<sock_filter> program;
    unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*
};

// What the process may do once it runs: config.json's process.capabilities, noNewPrivileges and
// linux.seccomp, applied in the guest in the order a host container's are (runtime/security.h).
struct GuestSecurity {
    std::optional<GuestCapabilities> capabilities;  // none: the agent's own, every one
    bool no_new_privileges = false;
    std::optional<GuestSeccomp> seccomp;
};

// Every namespace the guest makes for a container: pid, ipc, uts, mount and cgroup. Not a network
// one (the guest's only network is its loopback, the container's alone), nor a user or time one.
inline constexpr unsigned long guest_namespaces =
    CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP;

// The container's process, as the agent starts it.
struct GuestConfig {
    std::vector<std::string> args;
    std::vector<std::string> env;  // NAME=VALUE
    std::string cwd = "/";
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> additional_gids;
    std::string hostname;
    // The namespaces the first process gets in the guest, as CLONE_NEW* flags (of
    // guest_namespaces only): config.json's new ones. An exec joins the first process's.
    unsigned long namespaces = 0;
    unsigned layers = 0;  // disks hutch-layer-0 .. hutch-layer-(layers-1)
    std::vector<GuestRlimit> rlimits;
    bool readonly_root = false;      // --read-only: the root remounted read-only
    std::vector<std::string> tmpfs;  // --tmpfs: absolute paths, each a tmpfs of its own
    std::vector<GuestVolume> volumes;
    std::vector<GuestFile> files;
    GuestLimits limits;
    GuestSecurity security;
    // -t: the process's stdin, stdout and stderr are a pty of this size, its controlling terminal.
    bool terminal = false;
    WindowSize window_size;
};

// JSON holds only UTF-8: a byte of an argument, variable or path that is not reaches the guest as
// U+FFFD (base/json.h), as it would reach runc's JSON.
std::string to_json(const GuestConfig& config);
ErrorOr<GuestConfig> parse_guest_config(std::string_view text);

// A stats answer's exec stdout.
std::string to_json(const cgroups::Stats& stats);
ErrorOr<cgroups::Stats> parse_guest_stats(std::string_view text);

// A processes answer's exec stdout.
std::string pids_json(const std::vector<pid_t>& pids);
ErrorOr<std::vector<pid_t>> parse_guest_pids(std::string_view text);

// "N" for an int payload; parse_int_payload refuses anything else.
std::string int_payload(int value);
ErrorOr<int> parse_int_payload(std::string_view payload);

// "ROWSxCOLS" for a window size frame; parse_window_size_payload refuses anything else.
std::string window_size_payload(WindowSize size);
ErrorOr<WindowSize> parse_window_size_payload(std::string_view payload);

}  // namespace hutch::microvm
