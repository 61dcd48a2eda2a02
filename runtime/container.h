// A container's record under --root: ROOT/ID/state.json (what later commands need to know) and
// ROOT/ID/config.json (the config it was created with, for exec), ROOT/ID/exec.fifo (the created container's
// first process waits on it until `start`; `run` makes none, and keeps the directory locked until its
// container is started). The directory is locked (flock) for as long as a Container object lives.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::runtime {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status status);

struct ContainerState {
    std::string id;
    pid_t pid = 0;
    uint64_t pid_start_time = 0;  // from /proc/PID/stat: tells a reused pid from ours
    std::string bundle;
    std::string rootfs;
    std::string created;  // RFC 3339, UTC
    std::string owner;
    std::map<std::string, std::string> annotations;
    std::map<std::string, std::string> cgroup_paths;  // cgroups::Manager::paths()
    std::vector<spec::Hook> poststart;                // run by start
    std::vector<spec::Hook> poststop;                 // run by delete, after the bundle may be gone
    bool own_pid_namespace = false;                   // killing pid kills everything inside
    // linux.netDevices moved into its network namespace: name in the runtime's -> name inside,
    // for delete to move them back; and that namespace's path when it was joined by path.
    std::map<std::string, std::string> net_devices;
    std::string net_namespace_path;
    // Without a mount namespace of its own: the id of its rootfs mount, which delete detaches
    // with everything under it, in the namespace joined by path, or else in the runtime's.
    uint64_t rootfs_mount_id = 0;
    std::string mount_namespace_path;
    // runtime/backend.h: where the process runs. Empty for the namespaces+cgroups backend, so that
    // its state is written as before and a state saved by an older hutch-oci reads as that one.
    std::string backend;
};

// Accepts what runc accepts: letters, digits, '_', '+', '-', '.', and not "." or "..".
ErrorOr<void> validate_container_id(const std::string& id);

class Container {
public:
    // Makes ROOT/ID (failing if it exists) and locks it; status "creating" until saved.
    static ErrorOr<Container> make_new(const std::string& root, const std::string& id);
    // Locks ROOT/ID and loads its state.
    static ErrorOr<Container> open(const std::string& root, const std::string& id);
    // Removes ROOT/ID of a container whose state could not be loaded (a crash during create).
    // False when, by the time it holds the lock, a create has completed the state: not broken.
    static ErrorOr<bool> remove_broken(const std::string& root, const std::string& id);

    ContainerState state;

    // The status, derived from the kernel: is the pid ours and alive, are its cgroups frozen
    // (paused), is the fifo still there. "creating" while this process is creating the container
    // (no other command can look then: the directory is locked).
    Status status() const;
    ErrorOr<void> save() const;
    // ROOT/ID/config.json: the config the container was created with, for `exec`.
    ErrorOr<void> save_config(const std::string& text) const;
    ErrorOr<std::string> load_config() const;
    void mark_created() { creating_ = false; }
    ErrorOr<void> remove_directory();
    // Lets other commands work on the container while this one waits (run in the foreground).
    void unlock();
    // Takes the lock again after unlock(). False when another command removed the directory
    // meanwhile: it is then no longer this container's, even if one of the same id was made since.
    ErrorOr<bool> relock();
    // The container's process must close its inherited copy, or it would hold the lock for life.
    int lock_fd() const { return lock_.get(); }

    std::string dir() const { return dir_; }
    std::string fifo_path() const { return dir_ + "/exec.fifo"; }
    // The state given to hooks and printed by `state`: the runtime-spec's fields.
    nlohmann::ordered_json spec_state() const;
    // What `state` and `list --format json` print: runc's fields.
    nlohmann::ordered_json runc_state() const;

private:
    Container(std::string dir, UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
    std::string dir_;
    UniqueFd lock_;
    bool creating_ = false;
};

// Start time of a process (field 22 of /proc/PID/stat), 0 when it does not exist.
uint64_t process_start_time(pid_t pid);

// What /proc/PID/stat says of a process: its state letter ('T': stopped), its parent and its start
// time. None when there is no such process.
struct ProcessStat {
    char state = 0;
    pid_t parent = 0;
    uint64_t start_time = 0;
};
std::optional<ProcessStat> read_process_stat(pid_t pid);

}  // namespace hutch::runtime
