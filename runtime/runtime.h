// The container lifecycle, one function per runc verb. cli/ parses flags and calls these.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/container.h"
#include "runtime/update_flags.h"

namespace hutch::runtime {

struct CreateOptions {
    std::string root;  // --root: where container state lives
    std::string id;
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    int preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
    bool systemd_cgroup = false;  // the global --systemd-cgroup: a systemd scope, not cgroupfs
};

ErrorOr<void> create(const CreateOptions& options);
ErrorOr<void> start(const std::string& root, const std::string& id);
// create + start; in the foreground, waits and returns the exit status (128+signal when killed),
// forwarding signals and, with a terminal and no console socket, the caller's terminal. The
// container is then deleted, unless keep: it stays, stopped, for `state` and `delete`.
struct RunMode {
    bool detach = false;
    bool keep = false;
};
ErrorOr<int> run(const CreateOptions& options, RunMode mode);
// `exec`: a new process in a created or running container. Without --process it is the
// container's own process (from the config saved at create) with args and runc's flags applied.
struct ExecOptions {
    std::string root;
    std::string id;
    std::string process_file;  // --process: the whole process; the flags describing one are ignored
    std::vector<std::string> args;
    bool tty = false;
    std::vector<std::string> env;  // NAME=VALUE, replacing the container's value of NAME
    std::string cwd;
    std::string user;  // UID[:GID]
    std::vector<uint32_t> additional_gids;
    std::vector<std::string> caps;  // added to the bounding, effective and permitted sets
    bool no_new_privs = false;
    std::string apparmor;       // AppArmor profile
    std::string process_label;  // SELinux label
    // How the process is run, with or without --process:
    std::string console_socket;
    std::string pid_file;
    bool detach = false;
    int preserve_fds = 0;
    std::string cgroup;  // a sub-cgroup of the container's (cgroup v2), which must exist
};
// Detached: returns 0 once the process has exec'd. In the foreground: its exit status (128+N
// when killed by signal N), with signals and the terminal forwarded as `run` does.
ErrorOr<int> exec(const ExecOptions& options);

ErrorOr<std::string> state(const std::string& root, const std::string& id);
ErrorOr<void> kill(const std::string& root, const std::string& id, int signal, bool all);
ErrorOr<void> remove(const std::string& root, const std::string& id, bool force);
// runc's fields for every container under root, sorted by id.
ErrorOr<std::vector<nlohmann::ordered_json>> list(const std::string& root);

// Freezes every process of a created or running container; resume thaws a paused one.
ErrorOr<void> pause(const std::string& root, const std::string& id);
ErrorOr<void> resume(const std::string& root, const std::string& id);

// Writes new limits into a live container's cgroups: the --resources document and runc's flags.
ErrorOr<void> update(const std::string& root, const std::string& id, const UpdateFlags& flags);

struct EventsOptions {
    bool stats = false;  // one stats event, then return
    std::chrono::nanoseconds interval = std::chrono::seconds(5);
};
// Receives each event, one JSON object without a newline.
using EventSink = std::function<void(const std::string& line)>;
// With options.stats, one stats event. Else a stats event every interval and an "oom" event for
// each new OOM kill in the container's cgroups, until the container stops.
ErrorOr<void> events(const std::string& root, const std::string& id, const EventsOptions& options,
                     const EventSink& emit);

struct PsOptions {
    bool json = false;                 // --format json
    std::vector<std::string> ps_args;  // ps(1)'s, for the table (default -ef)
};
// `ps`: the processes of a created, running or paused container, as a JSON list of their pids
// (sorted) or as the host's `ps ps_args` cut down to their lines; the text to print.
ErrorOr<std::string> ps(const std::string& root, const std::string& id, const PsOptions& options);

// The runtime-spec's features document: what this build of hutch accepts.
nlohmann::ordered_json features();

// "TERM", "SIGTERM", "15" -> 15.
ErrorOr<int> parse_signal(const std::string& text);

}  // namespace hutch::runtime
