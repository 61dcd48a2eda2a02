// hutch: the command for people (podman's verbs), where hutch-oci is the one for other programs.
// Image verbs work on the store in images/, container verbs on containers made from its images;
// each verb is a file in cli/hutch/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/guarded_main.h"
#include "base/log.h"
#include "cli/hutch/container_verbs.h"
#include "cli/hutch/failure_line.h"
#include "cli/hutch/verbs.h"

using namespace hutch;
using namespace hutch::cli;

namespace {

// One line on stderr, status 125 (docker's for its own failures, apart from any status of a
// container's): what scripts and people both read easily.
int report(std::string message) {
    print_failure_line(std::move(message));
    return kHutchFailed;
}

int finish(const ErrorOr<void>& result) { return result ? 0 : report(result.error().message); }
int finish(const ErrorOr<int>& result) { return result ? *result : report(result.error().message); }

struct Flags {
    std::string storage_root = cli::kDefaultStorageRoot;
    cli::PullOptions pull;
    std::string image;  // pull
    std::string format = "table";
    std::string input;  // load -i
    std::optional<std::string> load_name;
    std::string run_root = "/run/hutch";
    RunFlags run;
    std::vector<std::string> names;  // start, stop, kill, rm, inspect, pause, unpause, stats, rmi
    int stop_timeout = 10;
    std::string signal = "SIGKILL";
    bool force = false;
    bool all = false;
    LogsFlags logs;
    ExecFlags exec;
    bool no_stream = false;
    cli::LoginOptions login;
    bool logout_all = false;
    cli::SaveOptions save;
    cli::RootfsImportOptions import;
    cli::ListOptions ps;
};

CLI::App* add_pull(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("pull", "fetch an image from a registry");
    cmd->add_option("--platform", f.pull.platform,
                    "os/arch[/variant] to pull from an index (default: this host's)");
    cmd->add_option("--authfile", f.pull.auth_file, "auth.json with the registry's credentials");
    cmd->add_flag("--tls-verify", f.pull.tls_verify,
                  "use HTTPS and check the registry's certificate (default true)");
    cmd->add_option("image", f.image, "the image: [registry[:port]/]repository[:tag|@digest]")->required();
    return cmd;
}

CLI::App* add_images(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("images", "list the images stored");
    cmd->add_option("--format", f.format, "table or json");
    return cmd;
}

CLI::App* add_load(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("load", "import an OCI or docker archive, or an OCI layout directory");
    cmd->add_option("-i,--input", f.input, "the archive or layout directory")->required();
    cmd->add_option("name", f.load_name, "the name to give the image (default: the layout's own)");
    return cmd;
}

CLI::App* add_save(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("save", "write images to an archive file");
    cmd->add_option("-o,--output", f.save.output, "the archive to write")->required();
    cmd->add_option("--format", f.save.format, "docker-archive (default) or oci-archive");
    cmd->add_option("images", f.save.images, "names or manifest digests")->required();
    return cmd;
}

CLI::App* add_import(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("import", "make an image of one layer from a directory or a tarball");
    cmd->add_option("-c,--change", f.import.changes,
                    "CMD, ENTRYPOINT, ENV, WORKDIR or USER, as in a Dockerfile")
        ->allow_extra_args(false);
    cmd->add_option("source", f.import.source, "a root filesystem directory, or a tar (plain or compressed)")
        ->required();
    cmd->add_option("name", f.import.name, "the name to give the image");
    return cmd;
}

CLI::App* add_rmi(CLI::App& app, Flags& f) {
    auto* cmd =
        app.add_subcommand("rmi", "remove images: their names, and the blobs and layers only they use");
    cmd->add_flag("-f,--force", f.force, "remove the name even when a container uses the image");
    cmd->add_option("images", f.names, "the images' names")->required();
    return cmd;
}

// `image prune`, a verb of the `image` group.
CLI::App* add_image_prune(CLI::App& app, Flags& f) {
    auto* image = app.add_subcommand("image", "manage images");
    image->require_subcommand(1);
    image->fallthrough();
    auto* cmd = image->add_subcommand("prune", "remove dangling images, and what nothing uses");
    cmd->add_flag("-a,--all", f.all, "also every image no container uses");
    return cmd;
}

// podman's flags for run and create. Option parsing stops at the image, so that the command's
// own options reach it: `run busybox ls -l`.
void add_run_flags(CLI::App* cmd, RunFlags& r) {
    cmd->prefix_command();
    // What follows the image is the command's: none of it goes back up to the global options.
    cmd->fallthrough(false);
    // -h is --hostname, as in docker and podman.
    cmd->set_help_flag("--help", "print this help");
    cmd->add_flag("-d,--detach", r.detach, "run in the background and print the container's id");
    cmd->add_flag("--rm", r.remove, "remove the container when it exits");
    cmd->add_flag("-i,--interactive", r.interactive, "keep stdin open to the container");
    cmd->add_flag("-t,--tty", r.tty, "give the container a terminal");
    cmd->add_option("-e,--env", r.env, "NAME=VALUE, or NAME for this shell's value")->allow_extra_args(false);
    cmd->add_option("--env-file", r.env_files, "a file of NAME=VALUE lines")->allow_extra_args(false);
    cmd->add_option("-v,--volume", r.volumes, "HOST:CONTAINER[:ro|rw], a bind mount")
        ->allow_extra_args(false);
    cmd->add_option("--tmpfs", r.tmpfs, "a tmpfs mounted at this container path")->allow_extra_args(false);
    cmd->add_option("-w,--workdir", r.workdir, "the working directory in the container");
    cmd->add_option("-u,--user", r.user, "USER[:GROUP], names from the image's /etc/passwd and /etc/group");
    cmd->add_option("--name", r.name, "the container's name");
    cmd->add_option("-h,--hostname", r.hostname, "the container's hostname (default: its short id)");
    cmd->add_option("--entrypoint", r.entrypoint, "replaces the image's entrypoint");
    cmd->add_flag("--read-only", r.read_only, "mount the root filesystem read-only");
    cmd->add_option("-m,--memory", r.memory, "memory limit: 512m, 1g");
    cmd->add_option("--cpus", r.cpus, "CPU limit: 1.5");
    cmd->add_option("--pids-limit", r.pids_limit, "the most processes (-1: no limit)");
    cmd->add_option("--cap-add", r.cap_add, "add a capability (or ALL)")->allow_extra_args(false);
    cmd->add_option("--cap-drop", r.cap_drop, "drop a capability (or ALL)")->allow_extra_args(false);
    cmd->add_option("--security-opt", r.security_opts, "no-new-privileges")->allow_extra_args(false);
    cmd->add_option("--network,--net", r.network, "none (default: only lo) or host");
    cmd->add_option("--annotation", r.annotations, "KEY=VALUE, an annotation of the container's config.json")
        ->allow_extra_args(false);
    // A flag, not an option: `--vm IMAGE` must leave IMAGE alone, so a mode is given as --vm=MODE.
    cmd->add_flag("--vm{always}", r.vm,
                  "--vm[=auto|always|never]: run in a microVM of its own, with its own kernel; auto "
                  "(the default) when the image needs more kernel than this host's");
    cmd->add_option("--vm-kernel,--kernel", r.vm_kernel,
                    "the microVM's kernel, a vmlinux (default $HUTCH_VM_KERNEL)");
    cmd->add_option("--vmm", r.vmm,
                    "the microVM's monitor: auto (the builtin VMM where KVM can run Linux, else QEMU), "
                    "builtin or qemu");
}

// The words after the flags: IMAGE [COMMAND...].
ErrorOr<void> take_image_and_command(CLI::App* cmd, RunFlags& r) {
    std::vector<std::string> words = cmd->remaining();
    if (!words.empty() && words.front() == "--") words.erase(words.begin());
    if (words.empty()) return fail(cmd->get_name() + ": an image is required");
    r.image = words.front();
    r.command.assign(words.begin() + 1, words.end());
    return {};
}

void add_container_verbs(CLI::App& app, Flags& f,
                         std::vector<std::pair<CLI::App*, std::function<int()>>>& verbs) {
    auto storage_of = [&f] { return Storage{f.storage_root, f.run_root}; };
    auto* run = app.add_subcommand("run", "run a command in a new container from an image");
    add_run_flags(run, f.run);
    verbs.emplace_back(run, [&f, run, storage_of] {
        auto taken = take_image_and_command(run, f.run);
        return taken ? finish(run_container(storage_of(), f.run)) : report(taken.error().message);
    });
    auto* create = app.add_subcommand("create", "create a container from an image, to start later");
    add_run_flags(create, f.run);
    verbs.emplace_back(create, [&f, create, storage_of] {
        auto taken = take_image_and_command(create, f.run);
        return taken ? finish(create_container(storage_of(), f.run)) : report(taken.error().message);
    });
    auto names_verb = [&](const char* name, const char* help, auto action) {
        auto* cmd = app.add_subcommand(name, help);
        cmd->add_option("containers", f.names, "names or ids")->required();
        verbs.emplace_back(cmd, [&f, storage_of, action] { return finish(action(storage_of(), f.names)); });
        return cmd;
    };
    names_verb("start", "start created or exited containers", start_containers);
    auto* stop = names_verb("stop", "stop containers: their stop signal, then SIGKILL",
                            [&f](auto s, auto& n) { return stop_containers(s, n, f.stop_timeout); });
    stop->add_option("-t,--time", f.stop_timeout, "seconds to wait before SIGKILL (default 10)");
    auto* kill = names_verb("kill", "send a signal to containers",
                            [&f](auto s, auto& n) { return kill_containers(s, n, f.signal); });
    kill->add_option("-s,--signal", f.signal, "the signal (default SIGKILL)");
    auto* rm = names_verb("rm", "remove containers",
                          [&f](auto s, auto& n) { return remove_containers(s, n, f.force); });
    rm->add_flag("-f,--force", f.force, "kill and remove running containers too");
    names_verb("inspect", "show containers as JSON", inspect_containers);
    names_verb("pause", "freeze every process of containers",
               [](auto s, auto& n) { return pause_containers(s, n, true); });
    names_verb("unpause", "thaw paused containers",
               [](auto s, auto& n) { return pause_containers(s, n, false); });

    auto* ps = app.add_subcommand("ps", "list containers");
    ps->add_flag("-a,--all", f.ps.all, "also created and exited containers");
    ps->add_flag("-q,--quiet", f.ps.quiet, "only the containers' short ids");
    ps->add_option("--format", f.ps.format, "table or json");
    verbs.emplace_back(ps, [&f, storage_of] { return finish(list_containers(storage_of(), f.ps)); });

    auto* stats = app.add_subcommand("stats", "CPU, memory and pids of running containers");
    stats->add_flag("--no-stream", f.no_stream, "print once (the only mode so far)");
    stats->add_option("containers", f.names, "names or ids (default: every running container)");
    verbs.emplace_back(stats, [&f, storage_of] { return finish(show_stats(storage_of(), f.names)); });

    auto* logs = app.add_subcommand("logs", "a container's output");
    logs->add_flag("-f,--follow", f.logs.follow, "keep printing until the container exits");
    logs->add_option("--tail", f.logs.tail, "only the last N lines");
    logs->add_flag("-t,--timestamps", f.logs.timestamps, "show when each line was written");
    logs->add_option("container", f.exec.container, "name or id")->required();
    verbs.emplace_back(
        logs, [&f, storage_of] { return finish(show_logs(storage_of(), f.exec.container, f.logs)); });

    auto* exec = app.add_subcommand("exec", "run a command in a running container");
    exec->prefix_command();
    exec->fallthrough(false);
    exec->add_flag("-i,--interactive", f.exec.interactive, "keep stdin open");
    exec->add_flag("-t,--tty", f.exec.tty, "give the process a terminal");
    exec->add_flag("-d,--detach", f.exec.detach, "do not wait for the process");
    exec->add_option("-e,--env", f.exec.env, "NAME=VALUE")->allow_extra_args(false);
    exec->add_option("-w,--workdir", f.exec.workdir, "the working directory");
    exec->add_option("-u,--user", f.exec.user, "USER[:GROUP]");
    verbs.emplace_back(exec, [&f, exec, storage_of] {
        std::vector<std::string> words = exec->remaining();
        if (words.empty()) return report("exec: a container is required");
        f.exec.container = words.front();
        f.exec.command.assign(words.begin() + 1, words.end());
        if (!f.exec.command.empty() && f.exec.command.front() == "--")
            f.exec.command.erase(f.exec.command.begin());
        return finish(exec_in_container(storage_of(), f.exec));
    });
}

CLI::App* add_login(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("login", "check credentials on a registry and save them");
    cmd->add_option("--authfile", f.login.auth_file,
                    "where to save them (default $REGISTRY_AUTH_FILE, else /run/containers/0/auth.json)");
    cmd->add_option("-u,--username", f.login.username, "the user name (asked on a terminal if not given)");
    cmd->add_option("-p,--password", f.login.password, "the password (asked on a terminal if not given)");
    cmd->add_flag("--password-stdin", f.login.password_stdin, "read the password from stdin");
    cmd->add_flag("--tls-verify", f.login.tls_verify,
                  "use HTTPS and check the registry's certificate (default true)");
    cmd->add_option("registry", f.login.registry, "the registry: host[:port]")->required();
    return cmd;
}

CLI::App* add_logout(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("logout", "remove a registry's saved credentials");
    cmd->add_option("--authfile", f.login.auth_file, "the auth file (default as login's)");
    cmd->add_flag("-a,--all", f.logout_all, "remove every registry's credentials");
    cmd->add_option("registry", f.login.registry, "the registry: host[:port]");
    return cmd;
}

int run_command_line(int argc, char** argv) {
    CLI::App app{"hutch: containers and their images"};
    app.set_version_flag("-v,--version", "hutch version 0.1.0");
    app.require_subcommand(1);
    // --storage-root may come before or after the verb.
    app.fallthrough();
    Flags f;
    app.add_option("--storage-root", f.storage_root,
                   "where images and containers are stored (default /var/lib/hutch)");
    app.add_option("--runroot", f.run_root,
                   "where the runtime keeps running containers' state (default /run/hutch)");
    bool debug = false;
    app.add_flag("-D,--debug", debug, "say on stderr what hutch chose and why (such as a microVM's VMM)");
    auto* pull = add_pull(app, f);
    auto* images = add_images(app, f);
    auto* load = add_load(app, f);
    auto* rmi = add_rmi(app, f);
    auto* save = add_save(app, f);
    auto* import = add_import(app, f);
    auto* image_prune = add_image_prune(app, f);
    std::vector<std::pair<CLI::App*, std::function<int()>>> verbs;
    add_container_verbs(app, f, verbs);
    auto* login = add_login(app, f);
    auto* logout = add_logout(app, f);
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        return report(e.what());
    }

    log::configure("", log::Format::text, debug);
    for (auto& [cmd, action] : verbs)
        if (cmd->parsed()) return action();
    f.pull.storage_root = f.storage_root;
    if (pull->parsed()) return finish(cli::pull(f.pull, f.image));
    if (images->parsed()) return finish(cli::list_images(f.storage_root, f.format));
    if (load->parsed()) return finish(cli::load(f.storage_root, f.input, f.load_name));
    if (rmi->parsed()) return finish(cli::remove_images(f.storage_root, f.names, f.force));
    if (image_prune->parsed()) return finish(cli::prune_images(f.storage_root, f.all));
    if (save->parsed()) return finish(cli::save(f.storage_root, f.save));
    if (import->parsed()) return finish(cli::import_rootfs(f.storage_root, f.import));
    if (login->parsed()) return finish(cli::login(f.login));
    if (logout->parsed()) return finish(cli::logout(f.login.auth_file, f.login.registry, f.logout_all));
    return 0;
}

int report_internal_error(const char* what) noexcept {
    std::fprintf(stderr, "hutch: internal error: %s\n", what);
    return kHutchFailed;
}

}  // namespace

int main(int argc, char** argv) {
    int code = run_guarded([&] { return run_command_line(argc, argv); }, report_internal_error);
    std::fflush(nullptr);
    return code;
}
