// From an image and podman's `run`/`create` flags to a container of the `hutch` command: its
// record, its overlay rootfs, and its config.json (spec/container_config.h), ready for the
// monitor to create and start.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/hutch/container_record.h"
#include "images/content_store.h"
#include "microvm/agent/protocol.h"
#include "microvm/host/vm_run.h"

namespace hutch::cli {

struct RunFlags {
    std::string image;
    std::vector<std::string> command;  // after the image: replaces the image's Cmd
    bool detach = false;               // -d
    bool remove = false;               // --rm
    bool interactive = false;          // -i
    bool tty = false;                  // -t
    std::vector<std::string> env;      // -e NAME=VALUE, or NAME for the caller's value
    std::vector<std::string> env_files;
    std::vector<std::string> volumes;  // -v HOST:CONTAINER[:ro|rw]
    std::vector<std::string> tmpfs;    // --tmpfs /run
    std::string workdir;
    std::string user;
    std::string name;
    std::string hostname;
    std::optional<std::string> entrypoint;
    bool read_only = false;
    std::string memory;  // "512m", "1g", bytes
    std::string cpus;    // "1.5"
    std::optional<int64_t> pids_limit;
    std::vector<std::string> cap_add, cap_drop;
    std::vector<std::string> security_opts;  // no-new-privileges
    std::string network = "none";            // none or host
    std::vector<std::string> annotations;    // --annotation KEY=VALUE: config.json's annotations
    std::string vm = "auto";                 // --vm[=auto|always|never] (backend_choice.h)
    std::string vm_kernel;                   // --vm-kernel: its vmlinux
    std::string vmm = "auto";                // --vmm=auto|builtin|qemu (microvm/vmm_choice.h)
};

struct Storage {
    std::string storage_root;  // images and containers
    std::string run_root;      // the runtime's state
};

// Removes, when it goes out of scope, a container set up but not handed to its monitor yet: its
// rootfs unmounted, its directory and record gone. Released once the monitor has it (whose
// failure to bring it up records its end itself), so that a failure anywhere between leaves
// nothing behind.
class SetUpGuard {
public:
    SetUpGuard(const ContainerStore& store, std::string id) : store_(store), id_(std::move(id)) {}
    ~SetUpGuard() {
        if (!id_.empty()) (void)store_.remove(id_);
    }
    SetUpGuard(const SetUpGuard&) = delete;
    SetUpGuard& operator=(const SetUpGuard&) = delete;
    void release() { id_.clear(); }

private:
    const ContainerStore& store_;
    std::string id_;
};

// Resolves the image (pulling it when it is not stored, as podman run does), records the
// container, mounts its rootfs and writes its config.json. On failure nothing of it stays.
ErrorOr<ContainerRecord> set_up_container(const ContainerStore& store, const Storage& storage,
                                          const RunFlags& flags);

// What `hutch run --vm` runs: the image's layers (top first), leased while this lives, and its
// process as the flags and the image's config make it, as for set_up_container. The user is
// looked up in the /etc/passwd and /etc/group of the topmost layer that has them.
struct VmContainer {
    std::vector<std::string> lowers;
    microvm::GuestConfig process;
    std::vector<microvm::host::VmVolume> volumes;  // -v: host directories
    std::optional<images::ContentStore> lease;
};
ErrorOr<VmContainer> set_up_vm_container(const Storage& storage, const RunFlags& flags);

// The manifest digest of image: the stored one, else pulled first (quietly), as podman run does.
ErrorOr<images::Digest> stored_or_pulled(const Storage& storage, const std::string& image);

// "512m" -> 536870912: docker's sizes (b, k, m, g, t; an optional trailing "b"; 1024-based).
ErrorOr<int64_t> parse_memory_size(std::string_view text);
// "1.5" -> 150000: CPU time in microseconds per 100 ms period.
ErrorOr<int64_t> parse_cpus(std::string_view text);

}  // namespace hutch::cli
