// hutch-oci: runc's command line, so that podman, containerd and Kubernetes can drive hutch.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/duration.h"
#include "base/file.h"
#include "base/guarded_main.h"
#include "base/json.h"
#include "base/log.h"
#include "runtime/runtime.h"
#include "spec/spec.h"

using namespace hutch;

namespace {

struct GlobalFlags {
    std::string root = "/run/hutch";
    std::string log_path;
    std::string log_format = "text";
    bool debug = false;
    bool systemd_cgroup = false;
    std::string rootless = "auto";
};

int report(const Error& error) {
    log::error(error.message);
    return 1;
}

int finish(const ErrorOr<void>& result) { return result ? 0 : report(result.error()); }

ErrorOr<void> check_globals(const GlobalFlags& g) {
    if (g.rootless == "true") return fail("--rootless=true: rootless containers are not supported yet");
    return {};
}

void add_create_flags(CLI::App* cmd, runtime::CreateOptions& o) {
    cmd->add_option("container-id", o.id, "the container's id")->required();
    cmd->add_option("-b,--bundle", o.bundle, "path to the bundle directory (default: the current directory)");
    cmd->add_option("--pid-file", o.pid_file, "file to write the container process's pid to");
    cmd->add_option("--console-socket", o.console_socket, "unix socket that receives the pty master");
    cmd->add_option("--preserve-fds", o.preserve_fds,
                    "pass N more file descriptors (from 3) to the container");
    cmd->add_flag("--no-pivot", o.no_pivot, "use chroot instead of pivot_root");
    cmd->add_flag("--no-new-keyring", o.no_new_keyring, "keep the caller's session keyring");
}

ErrorOr<void> print_list(const std::string& root, const std::string& format, bool quiet) {
    auto containers = TRY(runtime::list(root));
    if (quiet) {
        for (const auto& c : containers) std::printf("%s\n", c["id"].get<std::string>().c_str());
    } else if (format == "json") {
        std::printf("%s\n", json_text(nlohmann::ordered_json(containers)).c_str());
    } else if (format == "table") {
        std::printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        for (const auto& c : containers)
            std::printf("%-20s %-8d %-10s %-40s %-31s %s\n", c["id"].get<std::string>().c_str(),
                        c["pid"].get<int>(), c["status"].get<std::string>().c_str(),
                        c["bundle"].get<std::string>().c_str(), c["created"].get<std::string>().c_str(),
                        c["owner"].get<std::string>().c_str());
    } else {
        return fail("--format: expected table or json, got " + format);
    }
    return {};
}

// Everything the command line can set, for every subcommand.
struct Flags {
    GlobalFlags global;
    runtime::CreateOptions create;  // create, run
    runtime::RunMode run;           // run
    std::string bundle = ".";       // spec
    bool rootless_spec = false;     // spec
    std::string id;                 // start, state, kill, delete
    std::string signal = "SIGTERM";
    bool all = false;
    bool force = false;
    std::string format = "table";  // list, ps
    bool quiet = false;
    runtime::UpdateFlags update;
    bool stats_only = false;  // events
    std::string interval = "5s";
    std::vector<std::string> ps_args;
    runtime::ExecOptions exec;
    CLI::App* exec_app = nullptr;  // its remaining words: the container id, then the command
};

int spec_command(Flags& f) {
    std::string path = f.bundle + "/config.json";
    if (::access(path.c_str(), F_OK) == 0)
        return report(Error::with_message("File " + path + " exists. Remove it first"));
    return finish(write_file_atomic(path, spec::default_spec_json(f.rootless_spec)));
}

int state_command(Flags& f) {
    auto text = runtime::state(f.global.root, f.id);
    if (!text) return report(text.error());
    std::printf("%s\n", text->c_str());
    return 0;
}

int kill_command(Flags& f) {
    auto sig = runtime::parse_signal(f.signal);
    if (!sig) return report(sig.error());
    return finish(runtime::kill(f.global.root, f.id, *sig, f.all));
}

int run_command(Flags& f) {
    auto status = runtime::run(f.create, f.run);
    return status ? *status : report(status.error());
}

int events_command(Flags& f) {
    auto interval = parse_go_duration(f.interval);
    if (!interval) return report(interval.error().context("--interval"));
    // Each event is flushed at once: a reader at the other end of a pipe waits for it.
    auto print = [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    };
    return finish(
        runtime::events(f.global.root, f.id, {.stats = f.stats_only, .interval = *interval}, print));
}

int ps_command(Flags& f) {
    if (f.format != "table" && f.format != "json")
        return report(Error::with_message("--format: expected table or json, got " + f.format));
    auto listed = runtime::ps(f.global.root, f.id, {.json = f.format == "json", .ps_args = f.ps_args});
    if (!listed) return report(listed.error());
    std::fputs(listed->c_str(), stdout);
    return 0;
}

// runc's `exec` flags. Option parsing stops at the first word that is not an option (the
// container id), so that the command's own options reach it: `exec ID ls -l`.
void add_exec_flags(CLI::App* cmd, Flags& f) {
    runtime::ExecOptions& o = f.exec;
    f.exec_app = cmd;
    cmd->prefix_command();
    cmd->add_option("--console-socket", o.console_socket, "unix socket that receives the pty master");
    cmd->add_option("--pid-file", o.pid_file, "file to write the process's pid to");
    cmd->add_option("--cwd", o.cwd, "current working directory in the container");
    cmd->add_option("-e,--env", o.env, "set an environment variable (NAME=VALUE)")->allow_extra_args(false);
    cmd->add_flag("-t,--tty", o.tty, "allocate a pseudo-TTY");
    cmd->add_option("-u,--user", o.user, "UID[:GID] to run the process as");
    cmd->add_option("-g,--additional-gids", o.additional_gids, "additional gids")->allow_extra_args(false);
    cmd->add_option("-p,--process", o.process_file,
                    "path to a process.json (the other process flags are ignored)");
    cmd->add_flag("-d,--detach", o.detach, "do not wait for the process");
    cmd->add_option("--process-label", o.process_label, "SELinux label for the process");
    cmd->add_option("--apparmor", o.apparmor, "AppArmor profile for the process");
    cmd->add_flag("--no-new-privs", o.no_new_privs, "set no_new_privs for the process");
    cmd->add_option("-c,--cap", o.caps, "add a capability to the bounding, effective and permitted sets")
        ->allow_extra_args(false);
    cmd->add_option("--preserve-fds", o.preserve_fds, "pass N more file descriptors (from 3) to the process");
    cmd->add_option("--cgroup", o.cgroup, "run the process in this existing sub-cgroup (cgroup v2)");
}

int exec_command(Flags& f) {
    std::vector<std::string> words = f.exec_app->remaining();
    if (words.empty()) return report(Error::with_message("exec: a container id is required"));
    f.exec.root = f.global.root;
    f.exec.id = words.front();
    auto first_arg = words.begin() + 1;
    if (first_arg != words.end() && *first_arg == "--") ++first_arg;
    f.exec.args.assign(first_arg, words.end());
    if (!f.exec.process_file.empty()) f.exec.args.clear();
    auto status = runtime::exec(f.exec);
    return status ? *status : report(status.error());
}

struct Subcommand {
    const char* name;
    const char* description;
    void (*add_flags)(CLI::App*, Flags&);
    int (*run)(Flags&);
};

void add_id(CLI::App* cmd, Flags& f) { cmd->add_option("container-id", f.id)->required(); }

// runc's `update` flags with runc's help. Each one given is recorded, so that a flag set to 0 can
// be told from one not given.
void add_update_flags(CLI::App* cmd, Flags& f) {
    add_id(cmd, f);
    using Field = std::optional<std::string> runtime::UpdateFlags::*;
    struct Option {
        const char* name;
        Field field;
        const char* help;
    };
    static const Option kOptions[] = {
        {"--blkio-weight", &runtime::UpdateFlags::blkio_weight,
         "Specifies per cgroup weight, range is from 10 to 1000"},
        {"--cpu-period", &runtime::UpdateFlags::cpu_period,
         "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
        {"--cpu-quota", &runtime::UpdateFlags::cpu_quota,
         "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
        {"--cpu-share,--cpu-shares", &runtime::UpdateFlags::cpu_shares,
         "CPU shares (relative weight vs. other containers)"},
        {"--cpu-rt-period", &runtime::UpdateFlags::cpu_rt_period,
         "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
        {"--cpu-rt-runtime", &runtime::UpdateFlags::cpu_rt_runtime,
         "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
        {"--cpuset-cpus", &runtime::UpdateFlags::cpuset_cpus, "CPU(s) to use"},
        {"--cpuset-mems", &runtime::UpdateFlags::cpuset_mems, "Memory node(s) to use"},
        {"--kernel-memory", &runtime::UpdateFlags::kernel_memory, "(obsolete: refused, not supported)"},
        {"--kernel-memory-tcp", &runtime::UpdateFlags::kernel_memory_tcp,
         "(obsolete: refused, not supported)"},
        {"--memory", &runtime::UpdateFlags::memory, "Memory limit (in bytes; or with k, m, g: 64m)"},
        {"--memory-reservation", &runtime::UpdateFlags::memory_reservation,
         "Memory reservation or soft_limit (in bytes)"},
        {"--memory-swap", &runtime::UpdateFlags::memory_swap,
         "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
        {"--pids-limit", &runtime::UpdateFlags::pids_limit,
         "Maximum number of pids allowed in the container"},
    };
    runtime::UpdateFlags& update = f.update;
    cmd->add_option("-r,--resources", update.resources,
                    "path to the file containing the resources to update or '-' to read from the standard "
                    "input");
    for (const Option& option : kOptions) {
        cmd->add_option_function<std::string>(
            option.name, [&update, field = option.field](const std::string& value) { update.*field = value; },
            option.help);
    }
}

const Subcommand kSubcommands[] = {
    {"spec", "write a default config.json into the bundle",
     [](CLI::App* cmd, Flags& f) {
         cmd->add_option("-b,--bundle", f.bundle, "bundle directory");
         cmd->add_flag("--rootless", f.rootless_spec, "a config for a rootless container");
     },
     spec_command},
    {"create", "create a container from a bundle",
     [](CLI::App* cmd, Flags& f) { add_create_flags(cmd, f.create); },
     [](Flags& f) { return finish(runtime::create(f.create)); }},
    {"run", "create and start a container",
     [](CLI::App* cmd, Flags& f) {
         add_create_flags(cmd, f.create);
         cmd->add_flag("-d,--detach", f.run.detach, "do not wait for the container");
         cmd->add_flag("--keep", f.run.keep, "do not delete the container after it exits");
     },
     run_command},
    {"start", "start a created container", add_id,
     [](Flags& f) { return finish(runtime::start(f.global.root, f.id)); }},
    {"state", "print a container's state as JSON", add_id, state_command},
    {"exec", "run a new process inside a container", add_exec_flags, exec_command},
    {"kill", "send a signal to a container",
     [](CLI::App* cmd, Flags& f) {
         add_id(cmd, f);
         cmd->add_option("signal", f.signal, "signal name or number (default SIGTERM)");
         cmd->add_flag("-a,--all", f.all, "signal every process in the container");
     },
     kill_command},
    {"delete", "delete a container",
     [](CLI::App* cmd, Flags& f) {
         add_id(cmd, f);
         cmd->add_flag("-f,--force", f.force, "kill a running container first");
     },
     [](Flags& f) { return finish(runtime::remove(f.global.root, f.id, f.force)); }},
    {"list", "list containers",
     [](CLI::App* cmd, Flags& f) {
         cmd->add_option("-f,--format", f.format, "table or json");
         cmd->add_flag("-q,--quiet", f.quiet, "print ids only");
     },
     [](Flags& f) { return finish(print_list(f.global.root, f.format, f.quiet)); }},
    {"pause", "pause suspends all processes inside the container", add_id,
     [](Flags& f) { return finish(runtime::pause(f.global.root, f.id)); }},
    {"resume", "resumes all processes that have been previously paused", add_id,
     [](Flags& f) { return finish(runtime::resume(f.global.root, f.id)); }},
    {"update", "update container resource constraints", add_update_flags,
     [](Flags& f) { return finish(runtime::update(f.global.root, f.id, f.update)); }},
    {"events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
     [](CLI::App* cmd, Flags& f) {
         add_id(cmd, f);
         cmd->add_option("--interval", f.interval, "set the stats collection interval (default: 5s)");
         cmd->add_flag("--stats", f.stats_only, "display the container's stats then exit");
     },
     events_command},
    {"ps", "ps displays the processes running inside a container",
     [](CLI::App* cmd, Flags& f) {
         add_id(cmd, f);
         cmd->add_option("ps-args", f.ps_args, "arguments for ps(1) after --, default -ef");
         cmd->add_option("-f,--format", f.format, "select one of: table or json (default: \"table\")");
     },
     ps_command},
    {"features", "show the enabled features", [](CLI::App*, Flags&) {},
     [](Flags&) {
         std::printf("%s\n", json_text(runtime::features(), 4).c_str());
         return 0;
     }},
};

// The subcommand the command line names: its first word that is neither a global option of app
// nor the value of one. Only that subcommand's parser is built (CLI11 builds each one's options,
// 0.05 ms for all of them here); with none named, or an unknown one, all are, for help and errors.
const Subcommand* named_subcommand(const CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string word = argv[i];
        if (word.starts_with('-')) {
            const CLI::Option* option = app.get_option_no_throw(word);
            if (option && option->get_items_expected_min() > 0) ++i;  // "--root DIR": DIR is its value
            continue;
        }
        for (const auto& sub : kSubcommands)
            if (word == sub.name) return &sub;
        return nullptr;
    }
    return nullptr;
}

}  // namespace

static int run_command_line(int argc, char** argv) {
    CLI::App app{"hutch-oci: an OCI container runtime with runc's command line"};
    app.set_version_flag("-v,--version", std::string("hutch-oci version 0.1.0\nspec: ") + spec::kOciVersion);
    app.require_subcommand(1);
    Flags f;
    GlobalFlags& g = f.global;
    app.add_option("--root", g.root, "directory for container state (default /run/hutch)");
    app.add_option("--log", g.log_path, "log file (default: stderr)");
    app.add_option("--log-format", g.log_format, "log format: text or json")
        ->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--debug", g.debug, "log debug messages");
    app.add_flag("--systemd-cgroup", g.systemd_cgroup,
                 "use the systemd cgroup driver: the container's cgroup is a systemd scope");
    app.add_option("--rootless", g.rootless, "rootless mode: auto, true or false");
    app.add_option("--criu", "ignored: checkpoint/restore is not supported");

    const Subcommand* named = named_subcommand(app, argc, argv);
    for (const auto& sub : kSubcommands)
        if (!named || named == &sub) sub.add_flags(app.add_subcommand(sub.name, sub.description), f);

    CLI11_PARSE(app, argc, argv);
    log::configure(g.log_path, g.log_format == "json" ? log::Format::json : log::Format::text, g.debug);
    if (auto ok = check_globals(g); !ok) return report(ok.error());
    log::debug("hutch-oci: flags parsed");
    f.create.root = g.root;
    f.create.systemd_cgroup = g.systemd_cgroup;
    for (const CLI::App* parsed : app.get_subcommands())
        for (const auto& sub : kSubcommands)
            if (parsed->get_name() == sub.name) return sub.run(f);
    return 0;
}

// What run_guarded (base/guarded_main.h) reports: to --log, which containerd reads, and stderr.
static int report_internal_error(const char* what) noexcept {
    try {
        std::string line = std::string("hutch-oci: internal error: ") + what;
        std::ranges::replace(line, '\n', ' ');
        log::error(line);  // to --log (read by containerd) and to stderr
    } catch (...) {
        std::fprintf(stderr, "hutch-oci: internal error: %s\n", what);
    }
    return 1;
}

int main(int argc, char** argv) {
    int code = run_guarded([&] { return run_command_line(argc, argv); }, report_internal_error);
    // The kernel reclaims a process faster than its destructors free it piece by piece (0.15 ms
    // of every `run` here). Under AddressSanitizer the normal exit stays: it is where leaks show.
#ifndef __SANITIZE_ADDRESS__
    std::fflush(nullptr);
    _exit(code);
#endif
    return code;
}
