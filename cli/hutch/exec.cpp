// hutch exec [-i] [-t] [-d] [-e] [-w] [-u] CONTAINER CMD...: a process in a running container
// through the runtime's exec, the user looked up in the container's own /etc/passwd.
#include <fcntl.h>
#include <unistd.h>

#include "cli/hutch/container_verbs.h"
#include "cli/hutch/env_words.h"
#include "cli/hutch/stdio.h"
#include "images/image_user.h"
#include "runtime/runtime.h"

namespace hutch::cli {
namespace {

ErrorOr<void> set_user(const ContainerStore& store, const std::string& id, const std::string& user,
                       runtime::ExecOptions& options) {
    std::string rootfs = store.dir(id) + "/rootfs";
    UniqueFd rootfs_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfs_fd) return fail_errno("open " + rootfs);
    auto resolved = TRY(images::resolve_image_user(rootfs_fd.get(), user));
    options.user = std::to_string(resolved.uid) + ":" + std::to_string(resolved.gid);
    options.additional_gids.assign(resolved.additional_gids.begin(), resolved.additional_gids.end());
    return {};
}

}  // namespace

ErrorOr<int> exec_in_container(const Storage& storage, const ExecFlags& flags) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(store.find(flags.container));
    if (record.status != ContainerStatus::running)
        return fail("container " + flags.container + " is " + std::string(to_string(record.status)) +
                    ", not running");
    if (flags.command.empty()) return fail("exec: a command is required");
    runtime::ExecOptions options;
    options.root = store.run_root();
    options.id = record.id;
    options.args = flags.command;
    options.tty = flags.tty;
    for (const auto& word : flags.env) add_env_word(options.env, word);
    options.cwd = flags.workdir;
    options.detach = flags.detach;
    if (!flags.user.empty()) TRY_CTX(set_user(store, record.id, flags.user, options), "--user");
    if (!flags.interactive) TRY(stdin_from_null());
    return runtime::exec(options);
}

}  // namespace hutch::cli
