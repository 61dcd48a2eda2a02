// hutch run --vm: the container's process in a QEMU microVM of its own (microvm/qemu/), with its
// own kernel, in the foreground. The image's layers go to the VM as erofs disks; what the VM's
// agent does not apply yet is refused here, never silently dropped.
#include <unistd.h>

#include "cli/hutch/backend_choice.h"
#include "cli/hutch/container_verbs.h"
#include "microvm/qemu/vm_run.h"

namespace hutch::cli {
namespace {

ErrorOr<void> refuse_unsupported(const RunFlags& flags) {
    auto refuse = [](const std::string& flag) { return fail("--vm with " + flag + ": not supported yet"); };
    if (flags.detach) return refuse("-d");
    if (flags.tty) return refuse("-t");
    if (!flags.volumes.empty()) return refuse("-v");
    if (!flags.memory.empty()) return refuse("--memory");
    if (!flags.cpus.empty()) return refuse("--cpus");
    if (flags.pids_limit) return refuse("--pids-limit");
    if (!flags.cap_add.empty() || !flags.cap_drop.empty()) return refuse("--cap-add/--cap-drop");
    if (!flags.security_opts.empty()) return refuse("--security-opt");
    if (flags.network != "none") return refuse("--network " + flags.network);
    if (!flags.name.empty()) return refuse("--name");
    return {};
}

// hutch-agent lies beside the hutch binary, as it is built and installed.
ErrorOr<std::string> agent_path() {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return fail_errno("readlink /proc/self/exe");
    std::string path(self, static_cast<size_t>(n));
    return path.substr(0, path.rfind('/') + 1) + "hutch-agent";
}

}  // namespace

ErrorOr<int> run_in_microvm(const Storage& storage, const RunFlags& flags) {
    TRY(refuse_unsupported(flags));
    microvm::qemu::VmRunOptions options;
    options.kernel = TRY(vm_kernel_path(flags));
    options.agent = TRY(agent_path());
    options.cache_dir = storage.storage_root + "/vm";
    auto container = TRY(set_up_vm_container(storage, flags));
    options.layers = container.lowers;
    options.process = container.process;
    options.relay_stdin = flags.interactive;
    return microvm::qemu::run_in_vm(options);
}

}  // namespace hutch::cli
