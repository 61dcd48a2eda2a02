// hutch: the command for people (podman's verbs), where hutch-oci is the one for other programs.
// These first verbs manage images; the store is images/, the verbs cli/hutch/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include "base/guarded_main.h"
#include "cli/hutch/verbs.h"

using namespace hutch;

namespace {

// One line on stderr, status 1: what scripts and people both read easily.
int report(std::string message) {
    std::ranges::replace(message, '\n', ' ');
    std::fprintf(stderr, "hutch: %s\n", message.c_str());
    return 1;
}

int finish(const ErrorOr<void>& result) { return result ? 0 : report(result.error().message); }

struct Flags {
    std::string storage_root = cli::kDefaultStorageRoot;
    cli::PullOptions pull;
    std::string image;  // pull, rmi
    std::string format = "table";
    std::string input;  // load -i
    std::optional<std::string> load_name;
    cli::LoginOptions login;
    bool logout_all = false;
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

CLI::App* add_rmi(CLI::App& app, Flags& f) {
    auto* cmd = app.add_subcommand("rmi", "remove an image's name");
    cmd->add_option("image", f.image, "the image's name")->required();
    return cmd;
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
    app.add_option("--storage-root", f.storage_root, "where images are stored (default /var/lib/hutch)");
    auto* pull = add_pull(app, f);
    auto* images = add_images(app, f);
    auto* load = add_load(app, f);
    auto* rmi = add_rmi(app, f);
    auto* login = add_login(app, f);
    auto* logout = add_logout(app, f);
    CLI11_PARSE(app, argc, argv);

    f.pull.storage_root = f.storage_root;
    if (pull->parsed()) return finish(cli::pull(f.pull, f.image));
    if (images->parsed()) return finish(cli::list_images(f.storage_root, f.format));
    if (load->parsed()) return finish(cli::load(f.storage_root, f.input, f.load_name));
    if (rmi->parsed()) return finish(cli::remove_image(f.storage_root, f.image));
    if (login->parsed()) return finish(cli::login(f.login));
    if (logout->parsed()) return finish(cli::logout(f.login.auth_file, f.login.registry, f.logout_all));
    return 0;
}

int report_internal_error(const char* what) noexcept {
    std::fprintf(stderr, "hutch: internal error: %s\n", what);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    int code = run_guarded([&] { return run_command_line(argc, argv); }, report_internal_error);
    std::fflush(nullptr);
    return code;
}
