// Starting a container's first process: one clone3() in the common case, one sync channel, no
// re-exec of hutch. The parent checks whatever can fail on bad input before the clone, then makes
// the cgroups and saves the state while the child makes its network namespace and sets up its
// mounts; the child joins the cgroups, pivots, reports "created", and waits on exec.fifo until
// `start` (in `run`, for the parent's word on the channel).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "cgroups/manager.h"
#include "runtime/container.h"
#include "runtime/sync_channel.h"
#include "spec/spec.h"

namespace hutch::runtime {

struct LaunchOptions {
    std::string rootfs;  // absolute
    int preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
    // linux.cgroupsPath and the resources to give the cgroups (cgroups::make_manager, create).
    std::string cgroups_path;
    bool systemd_cgroup = false;  // systemd's driver: the scope is asked for once the process runs
    const spec::Resources* resources = nullptr;
    // config.json's text, saved with the state (Container::save_config) off the critical path.
    const std::string* config_text = nullptr;
    // `run`: the process is started by release_on_channel(), with no exec.fifo.
    bool start_on_channel = false;
    // With start_on_channel, when nothing is left for the caller to do between "created" and
    // start (no pid file, no console socket): the start message goes out as soon as the state is
    // saved, so the process never sleeps waiting for it (a wake-up across CPUs, 0.1-0.2 ms).
    bool start_at_once = false;
};

struct Launched {
    pid_t pid = -1;
    UniqueFd pidfd;                      // the container process, for waiting without races
    UniqueFd pty_master;                 // when process.terminal: the console's master side
    std::optional<SyncChannel> channel;  // with start_on_channel: for release_on_channel()
    bool start_sent = false;             // start_at_once did it
    // With linux.netDevices: the container's network namespace, which `run` holds so that the
    // interfaces outlive the container's last process until they are moved back.
    UniqueFd netns;
    std::unique_ptr<cgroups::Manager> cgroups;
};

// Creates the first process of `container` and its cgroups, and returns once it waits for start.
// The cgroups are made after the clone, while the process makes its namespaces. On failure the
// process is killed and reaped, and the fifo and the cgroups are removed; the caller removes the
// state.
ErrorOr<Launched> launch(const spec::Spec& spec, Container& container, const LaunchOptions& options);

// The `start` half: releases the process waiting on the fifo and returns once it has exec'd
// (or reports why it could not). pidfd tells a dead process from a slow one.
ErrorOr<void> release_fifo(const std::string& fifo_path, int pidfd);

// The same for a process launched with start_on_channel: returns once it has exec'd (its end of
// the channel closes) or reports why it could not.
ErrorOr<void> release_on_channel(const SyncChannel& channel, bool start_sent);

}  // namespace hutch::runtime
