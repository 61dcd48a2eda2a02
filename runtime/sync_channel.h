// The one channel between hutch and the container's first process: a SOCK_SEQPACKET socket pair,
// so each message arrives whole. The child reports progress or failure on it and never throws.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::runtime {

enum class SyncMessage : uint8_t {
    ids_mapped = 1,         // parent -> child: uid_map and gid_map are written
    joins_ready,            // parent -> child: the cgroups exist; text: the hierarchies to bind in the
                            // container, as JSON; attached: the files to join the cgroups
    cgroup_mounts,          // parent -> child: attached: the cgroup mounts it built (none: the child
                            // builds them)
    rootfs_mount,           // child -> parent, without a mount namespace of its own: text: the id of
                            // the rootfs mount it is about to attach, for the state
    rootfs_mount_recorded,  // parent -> child
    run_hooks,              // child -> parent: namespaces and mounts are ready: move linux.netDevices in,
                            // run prestart/createRuntime
    hooks_done,             // parent -> child
    pty_master,             // child -> parent: the terminal's master side, as an attached fd
    seccomp_listener,       // child -> parent: the seccomp filter's listener fd (SCMP_ACT_NOTIFY), attached
    created,                // child -> parent: set-up is done, waiting for start
    start,                  // parent -> child, in `run`: exec the process (`start` uses exec.fifo)
    error,                  // child -> parent: text says what failed
};

class SyncChannel {
public:
    struct Received {
        SyncMessage type;
        std::string text;
        std::vector<UniqueFd> fds;
    };

    static ErrorOr<std::pair<SyncChannel, SyncChannel>> make_pair();

    ErrorOr<void> send(SyncMessage type, std::string_view text = {}, std::span<const int> fds = {}) const;
    // Fails when the peer closed its end: for the parent, the child died.
    ErrorOr<Received> receive() const;
    // Waits for one message of the expected type; an error message from the child becomes an Error.
    ErrorOr<Received> expect(SyncMessage type) const;
    // Waits until the peer closes its end (the child's closes on exec); an error message it sends
    // first becomes an Error.
    ErrorOr<void> wait_closed() const;
    // For the parent's failures: when a send found the child gone (EPIPE), the error the child
    // sent before it went says what happened, not the broken pipe. Returns that error, or `failure`.
    Error explain(Error failure) const;

    void close() { fd_.reset(); }
    int fd() const { return fd_.get(); }

private:
    explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace hutch::runtime
