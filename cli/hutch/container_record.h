// The `hutch` command's containers: what it made each one from and what became of it, kept on
// disk (hutch holds nothing in memory between commands). Each container has a directory
// STORAGE/containers/ID/ holding its bundle (config.json, rootfs/), its writable layer
// (images/container_rootfs.h), its log (ctr.log) and this record (container.json). The record
// is replaced atomically under the directory's lock (ID/lock), so the monitor that watches the
// container and the verbs a person types never lose each other's writes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace hutch::cli {

// podman's words: created (made, not started), running, paused, exited (stopped, kept); and
// starting, claimed by the `hutch start` that is starting it (so that a second one backs off),
// and unknown, for a container whose record cannot be read (ContainerStore::list).
enum class ContainerStatus { created, starting, running, paused, exited, unknown };

std::string_view to_string(ContainerStatus status);
std::optional<ContainerStatus> status_from_string(std::string_view text);
// Running or paused: what `ps` and `stats` show without -a.
inline bool is_up(ContainerStatus status) {
    return status == ContainerStatus::running || status == ContainerStatus::paused;
}

struct ContainerRecord {
    std::string id;  // 64 hex digits; the runtime's container id too
    std::string name;
    std::string image;         // as the user named it
    std::string image_digest;  // its manifest
    std::vector<std::string> command;
    std::string created;  // RFC 3339
    std::string stop_signal = "SIGTERM";
    bool remove_on_exit = false;  // --rm
    bool tty = false;
    // The image's, recorded for `inspect` (volumes are not made, ports not published, yet).
    std::map<std::string, std::string> labels;
    std::vector<std::string> volumes;
    std::vector<std::string> exposed_ports;
    std::vector<std::string> lowers;  // the image's layer directories, top first
    // What became of it: written by the monitor, and by the verbs through
    // ContainerStore::transition. Only the monitor records "exited", whatever it was before.
    ContainerStatus status = ContainerStatus::created;
    pid_t pid = 0;          // the container's process on the host, while it runs
    pid_t monitor_pid = 0;  // the process watching it
    std::string started_at;
    std::string finished_at;
    int exit_code = 0;  // 128+N when killed by signal N
};

// The record as container.json holds it (and `inspect` shows it).
nlohmann::json record_json(const ContainerRecord& record);

class ContainerStore {
public:
    // STORAGE/containers, made when missing. run_root is the runtime's state root for them.
    static ErrorOr<ContainerStore> open(const std::string& storage_root, std::string run_root);

    // A new record with a fresh id and its directory; the name (generated when empty) must be
    // free. Checked and claimed under the store's lock, so two `hutch run --name x` cannot both win.
    ErrorOr<ContainerRecord> add(ContainerRecord record) const;
    // By full id, name, or a prefix of an id that only one container has.
    ErrorOr<ContainerRecord> find(std::string_view name_or_id) const;
    // Every container; one whose record cannot be read is listed with its id and status unknown,
    // so that the others stay usable and `rm -f` can still remove it.
    ErrorOr<std::vector<ContainerRecord>> list() const;
    // Re-reads the record, applies change, writes it back, all under the container's lock. A
    // container whose lock is gone has been removed: "no such container".
    ErrorOr<ContainerRecord> update(const std::string& id,
                                    const std::function<void(ContainerRecord&)>& change) const;
    // As update, but only when the record's status is one of from (the monitor may have recorded
    // the container's end meanwhile): then act (a runtime call made under the lock, so that the
    // monitor's record of the end waits for it), and when it succeeds, the status becomes to.
    // Fails, writing nothing, when act does or the status is another ("container NAME is exited").
    using Action = std::function<ErrorOr<void>(ContainerRecord&)>;
    ErrorOr<ContainerRecord> transition(const std::string& id, std::initializer_list<ContainerStatus> from,
                                        ContainerStatus to, const Action& act = nullptr) const;
    // Removes the container's directory (its rootfs unmounted first) and so its record.
    ErrorOr<void> remove(const std::string& id) const;

    std::string dir(const std::string& id) const { return containers_ + "/" + id; }
    const std::string& run_root() const { return run_root_; }

private:
    ContainerStore(std::string containers, std::string run_root)
        : containers_(std::move(containers)), run_root_(std::move(run_root)) {}
    ErrorOr<ContainerRecord> load(const std::string& id) const;
    // Under the container's lock: read, change (whose failure writes nothing), write back.
    ErrorOr<ContainerRecord> rewrite(const std::string& id, const Action& change) const;

    std::string containers_;
    std::string run_root_;
};

}  // namespace hutch::cli
