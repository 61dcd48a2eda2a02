// `create`: from a bundle to a container waiting for `start`.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/timestamp.h"
#include "runtime/backend.h"
#include "runtime/net_devices.h"
#include "runtime/runtime.h"
#include "runtime/unix_socket.h"

namespace hutch::runtime {
namespace {

ErrorOr<std::string> absolute_path(const std::string& path, const std::string& what) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return fail_errno(what + " " + path);
    return std::string(resolved);
}

void fill_state(ContainerState& state, const spec::Spec& spec, const std::string& bundle,
                const std::string& rootfs) {
    state.bundle = bundle;
    state.rootfs = rootfs;
    state.created = rfc3339_now(true);
    state.annotations = spec.annotations;
    state.poststart = spec.hooks.poststart;
    state.poststop = spec.hooks.poststop;
    state.own_pid_namespace = spec::has_namespace(spec, spec::NamespaceType::pid) &&
                              spec::find_namespace(spec, spec::NamespaceType::pid)->path.empty();
    if (const auto* net = spec::find_namespace(spec, spec::NamespaceType::network))
        state.net_namespace_path = net->path;
    if (const auto* mnt = spec::find_namespace(spec, spec::NamespaceType::mount))
        state.mount_namespace_path = mnt->path;
}

ErrorOr<Created> create_locked(const CreateOptions& options, Container& container,
                               const spec::LoadedConfig& config, const std::string& bundle, RunCreate run) {
    const spec::Spec& spec = config.spec;
    std::string root_path = spec.root.path[0] == '/' ? spec.root.path : bundle + "/" + spec.root.path;
    std::string rootfs = TRY(absolute_path(root_path, "root.path"));
    fill_state(container.state, spec, bundle, rootfs);
    if (spec.process.terminal && options.console_socket.empty() && !run.keep_terminal)
        return fail("process.terminal is true: --console-socket is required");
    if (!spec.process.terminal && !options.console_socket.empty())
        return fail("--console-socket given but process.terminal is false");
    // Relative bind-mount sources are relative to the bundle.
    if (::chdir(bundle.c_str()) != 0) return fail_errno("chdir " + bundle);

    const Backend& backend = *TRY(backend_for(spec));
    container.state.backend = std::string(backend.name());
    auto launched = backend.launch(options, container, config, run);
    if (!launched) return std::unexpected(launched.error());
    auto finish = [&]() -> ErrorOr<void> {
        if (launched->pty_master && !options.console_socket.empty())
            TRY(send_to_console_socket(options.console_socket, launched->pty_master.get()));
        if (!options.pid_file.empty())
            TRY_CTX(write_file_atomic(options.pid_file, std::to_string(launched->pid)), "--pid-file");
        return {};
    }();
    if (!finish) {
        move_net_devices_out(container.state);
        ::kill(launched->pid, SIGKILL);  // not yet started: nothing to lose
        if (launched->cgroups) (void)launched->cgroups->destroy();
        return std::unexpected(finish.error());
    }
    container.mark_created();
    return Created{std::move(*launched), {}, {}};
}

}  // namespace

ErrorOr<Created> create_container(const CreateOptions& caller_options, RunCreate run) {
    // create changes to the bundle directory: the caller's relative paths are resolved first.
    CreateOptions options = caller_options;
    options.pid_file = absolute_from_cwd(options.pid_file);
    options.console_socket = absolute_from_cwd(options.console_socket);
    std::string bundle = TRY(absolute_path(options.bundle, "--bundle"));
    spec::LoadedConfig config = TRY(spec::load_spec(bundle));
    log::debug("create: config.json loaded");
    auto container = TRY(Container::make_new(options.root, options.id));
    auto created = create_locked(options, container, config, bundle, run);
    if (!created) {
        (void)container.remove_directory();
        return std::unexpected(created.error());
    }
    created->spec = std::move(config.spec);
    created->container = std::move(container);
    return created;
}

ErrorOr<void> create(const CreateOptions& options) {
    TRY(create_container(options));
    return {};
}

}  // namespace hutch::runtime
