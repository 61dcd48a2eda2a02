// hutch-agent: PID 1 of a container's microVM (microvm/agent/protocol.h says what it speaks).
// It reads the container's config from the host, mounts the container's root from the layer
// disks, waits for the host's go, runs the process (and the host's execs beside it), relays its
// stdio and the host's signals, reports its exit status and powers the VM off. A static binary:
// it runs from the initramfs, where nothing else is.
//
// PID 1 must never exit (the kernel panics): every path ends in power_off(), and a failure is
// reported to the host as a failure frame (or on the console, before the control port is open).
#include <fcntl.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <cstdio>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/agent/guest_cgroup.h"
#include "microvm/agent/guest_cgroup_requests.h"
#include "microvm/agent/guest_process.h"
#include "microvm/agent/guest_rootfs.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {
namespace {

[[noreturn]] void power_off() {
    ::reboot(RB_POWER_OFF);
    // Only when the kernel refused: the host's timeout kills the VM.
    for (;;) ::pause();
}

ErrorOr<UniqueFd> open_port(std::string_view name, int flags) {
    std::string path = TRY(find_port(name));
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) return fail_errno("open " + path);
    return fd;
}

// Until the host hangs up: it kills the VM once it has the exit frame. Powering off at once could
// lose the last frames: the writes made without blocking while the process ran leave buffers in
// the port's queue, and a blocking write returns once any one of them is taken, not its own.
void wait_for_host(int control) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(control, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
    }
}

// The next whole frame from the control port.
ErrorOr<Frame> next_frame(int control, FrameReader& reader) {
    auto frame = TRY_CTX(read_frame(control, reader), "the control port");
    if (!frame) return fail("the host closed the control port");
    return std::move(*frame);
}

// The config is the host's first frame.
ErrorOr<GuestConfig> receive_config(int control, FrameReader& reader) {
    Frame frame = TRY(next_frame(control, reader));
    if (frame.kind != FrameKind::config) return fail("the host sent something before the config");
    return parse_guest_config(frame.payload);
}

// Says the process is ready to start and waits for the host's go (hutch-oci's start may come long
// after its create). Meanwhile the terminal's size may change, and the created container's cgroup
// is there to update, read and list; an exec has no process to join yet.
ErrorOr<void> wait_for_go(int control, FrameReader& reader, GuestConfig& config,
                          const ContainerCgroup& cgroup) {
    TRY(write_all(control, encode_frame(FrameKind::prepared, "")));
    for (;;) {
        Frame frame = TRY(next_frame(control, reader));
        if (frame.kind == FrameKind::go) return {};
        if (frame.kind == FrameKind::window_size) {
            config.window_size = TRY(parse_window_size_payload(frame.payload));
        } else if (is_cgroup_request(frame.kind)) {
            TRY(write_all(control, TRY(answer_cgroup_request(cgroup, frame))));
        } else if (frame.kind == FrameKind::exec_start) {
            uint32_t exec = TRY(parse_exec_payload(frame.payload)).exec;
            TRY(write_all(control, encode_exec_frame(FrameKind::exec_failure, exec,
                                                     "the container's process has not started yet")));
        } else if (!is_host_exec_frame(frame.kind)) {  // a refused exec's stdin or signal: nothing to do
            return fail("the host sent something before go");
        }
    }
}

ErrorOr<int> run_container(int control) {
    FrameReader reader;
    GuestConfig config = TRY_CTX(receive_config(control, reader), "config");
    // Before the root changes: the initramfs's /sys/fs/cgroup is the writable one.
    ContainerCgroup cgroup = TRY_CTX(make_container_cgroup(config.limits), "cgroup");
    TRY_CTX(enter_container_rootfs(config), "root filesystem");
    UniqueFd stdin_port = TRY(open_port(stdin_port_name, O_RDONLY));
    TRY(wait_for_go(control, reader, config, cgroup));
    return run_process(config, cgroup, control, stdin_port.get(), reader);
}

void run() {
    if (auto mounted = mount_api_filesystems("", false); !mounted) {
        std::fprintf(stderr, "hutch-agent: %s\n", mounted.error().message.c_str());
        return;
    }
    auto control = open_port(control_port_name, O_RDWR);
    if (!control) {
        std::fprintf(stderr, "hutch-agent: %s\n", control.error().message.c_str());
        return;
    }
    auto status = run_container(control->get());
    std::string frame = status ? encode_frame(FrameKind::exit, int_payload(*status))
                               : encode_frame(FrameKind::failure, status.error().message);
    if (!write_all(control->get(), frame)) {
        std::fprintf(stderr, "hutch-agent: cannot report to the host\n");
        return;
    }
    wait_for_host(control->get());
}

}  // namespace
}  // namespace hutch::microvm::agent

int main() {
    hutch::microvm::agent::run();
    hutch::microvm::agent::power_off();
}
