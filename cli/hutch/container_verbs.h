// The `hutch` command's container verbs (podman's and docker's), one file each in cli/hutch/.
// Each opens the container store of a Storage, acts, and prints what a person asked for.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/hutch/container_setup.h"
#include "spec/container_config.h"

namespace hutch::cli {

// run: in the foreground returns the container's exit status; with -d prints its id.
ErrorOr<int> run_container(const Storage& storage, const RunFlags& flags);
// hutch run --vm (run_vm.cpp) in the foreground, in a microVM of its own, not recorded.
ErrorOr<int> run_in_microvm(const Storage& storage, const RunFlags& flags);
// The flags of a container of the store that runs in a microVM (run -d --vm, run --name --vm,
// create --vm): the annotations of hutch-oci's microVM backend added. What the VM cannot apply
// yet is refused in one line.
ErrorOr<RunFlags> as_microvm_container(const RunFlags& flags);
// For a config that runs in a microVM: its root as the image's layer disks (erofs images made once
// beside each layer, shared by every VM of the image), in the annotation run.oci.microvm.disks,
// rather than its rootfs packed at every create.
ErrorOr<void> add_microvm_disks(const std::vector<std::string>& lowers, spec::ContainerConfig& config);
// create: made and created in the runtime, waiting for `start`; prints its id.
ErrorOr<void> create_container(const Storage& storage, const RunFlags& flags);
// start: a created container starts; an exited one is created and started again.
ErrorOr<void> start_containers(const Storage& storage, const std::vector<std::string>& names);

// ps [-a] [--format table|json]
// ps: a table, JSON, or with quiet only the short ids (`hutch rm -f $(hutch ps -aq)`).
struct ListOptions {
    bool all = false;
    bool quiet = false;
    std::string format = "table";
};
ErrorOr<void> list_containers(const Storage& storage, const ListOptions& options);
// inspect: the records as a JSON array.
ErrorOr<void> inspect_containers(const Storage& storage, const std::vector<std::string>& names);

struct LogsFlags {
    bool follow = false;
    long tail = -1;
    bool timestamps = false;
};
ErrorOr<void> show_logs(const Storage& storage, const std::string& name, const LogsFlags& flags);

struct ExecFlags {
    std::string container;
    std::vector<std::string> command;
    bool interactive = false;
    bool tty = false;
    bool detach = false;
    std::vector<std::string> env;
    std::string workdir;
    std::string user;
};
ErrorOr<int> exec_in_container(const Storage& storage, const ExecFlags& flags);

// stop: the image's StopSignal (SIGTERM by default), then SIGKILL after timeout seconds.
ErrorOr<void> stop_containers(const Storage& storage, const std::vector<std::string>& names, int timeout);
ErrorOr<void> kill_containers(const Storage& storage, const std::vector<std::string>& names,
                              const std::string& signal);
// rm: an exited or created container; -f stops a running one first.
ErrorOr<void> remove_containers(const Storage& storage, const std::vector<std::string>& names, bool force);

// pause, unpause: every process of the container frozen or thawed.
ErrorOr<void> pause_containers(const Storage& storage, const std::vector<std::string>& names, bool pause);
// stats --no-stream: CPU time, memory and pids of each running container.
ErrorOr<void> show_stats(const Storage& storage, const std::vector<std::string>& names);

}  // namespace hutch::cli
