#include "microvm/host/oci_vm.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <string_view>

#include "base/file.h"
#include "runtime/security.h"

namespace hutch::microvm::host {

namespace {

// Files copied in are small (hosts, resolv.conf): the config frame holds them all, as hex.
constexpr size_t max_copied_bytes = 256 * 1024;

// linux.namespaces' new pid, ipc, uts, mount and cgroup namespaces, which the agent makes in the
// guest. One with a path is the host's, which a process in the guest cannot join: such a one, and
// a new network, user or time namespace, the VM itself stands for (protocol.h).
unsigned long guest_namespaces_of(const spec::Spec& spec) {
    unsigned long flags = 0;
    if (!spec.linux_) return flags;
    for (const auto& ns : spec.linux_->namespaces) {
        if (!ns.path.empty()) continue;
        switch (ns.type) {
            case spec::NamespaceType::pid: flags |= CLONE_NEWPID; break;
            case spec::NamespaceType::ipc: flags |= CLONE_NEWIPC; break;
            case spec::NamespaceType::uts: flags |= CLONE_NEWUTS; break;
            case spec::NamespaceType::mount: flags |= CLONE_NEWNS; break;
            case spec::NamespaceType::cgroup: flags |= CLONE_NEWCGROUP; break;
            case spec::NamespaceType::network:
            case spec::NamespaceType::user:
            case spec::NamespaceType::time: break;
        }
    }
    return flags;
}

// The guest's own: the agent mounts proc, sysfs, devtmpfs, devpts, a cgroup2 and /dev/shm in
// the container's root whatever config.json says, so a mount there (of any type: a rootless
// spec binds the host's /sys, podman binds its own /dev/shm) is not the VM's to give.
bool is_api_filesystem(const spec::Mount& mount) {
    for (std::string_view api : {"/proc", "/sys", "/dev"}) {
        std::string_view destination = mount.destination;
        if (destination.starts_with(api) &&
            (destination.size() == api.size() || destination[api.size()] == '/'))
            return true;
    }
    return false;
}

bool has_option(const spec::Mount& mount, std::string_view option) {
    return std::ranges::find(mount.options, option) != mount.options.end();
}

ErrorOr<void> add_mounts(const spec::Spec& spec, OciVm& vm) {
    VmBinds binds;
    for (const auto& mount : spec.mounts) {
        if (is_api_filesystem(mount)) continue;
        if (mount.is_bind()) {
            TRY(binds.add(mount.source, mount.destination, has_option(mount, "ro")));
        } else if (mount.type == "tmpfs") {
            vm.process.tmpfs.push_back(mount.destination);
        } else {
            return fail("mount of type " + mount.type + " on " + mount.destination +
                        ": not supported in a microVM");
        }
    }
    vm.volumes = std::move(binds.volumes);
    vm.process.files = std::move(binds.files);
    return {};
}

}  // namespace

ErrorOr<void> VmBinds::add(const std::string& source, const std::string& destination, bool readonly) {
    std::string where = "bind mount of " + source + " on " + destination;
    struct stat st;
    if (::stat(source.c_str(), &st) != 0) return fail_errno(where);
    if (S_ISDIR(st.st_mode)) {
        // Resolved now, from the caller's directory (hutch-oci's: the bundle): the VMM opens it later.
        char resolved[PATH_MAX];
        if (!::realpath(source.c_str(), resolved)) return fail_errno(where);
        volumes.push_back({resolved, {.path = destination, .readonly = readonly}});
        return {};
    }
    if (!S_ISREG(st.st_mode)) return fail(where + ": a microVM takes directories and regular files only");
    copied_ += static_cast<size_t>(st.st_size);
    if (copied_ > max_copied_bytes)
        return fail(where + ": a microVM copies a file's bind mount in, and these pass 256 KiB");
    files.push_back(
        {.path = destination, .content = TRY_CTX(read_file(source), where), .mode = st.st_mode & 07777});
    return {};
}

ErrorOr<std::vector<GuestRlimit>> guest_rlimits(const std::vector<spec::Rlimit>& rlimits) {
    auto plan = TRY(security::prepare_rlimits(rlimits));
    std::vector<GuestRlimit> guest;
    for (const auto& entry : plan.entries)
        guest.push_back(
            {.resource = entry.resource, .soft = entry.limit.rlim_cur, .hard = entry.limit.rlim_max});
    return guest;
}

ErrorOr<GuestSecurity> guest_security(const std::optional<spec::Capabilities>& capabilities,
                                      bool no_new_privileges, const std::optional<spec::Seccomp>& seccomp) {
    GuestSecurity security;
    auto plan = TRY(security::prepare_capabilities(capabilities));
    security.capabilities = GuestCapabilities{.bounding = plan.bounding,
                                              .effective = plan.effective,
                                              .permitted = plan.permitted,
                                              .inheritable = plan.inheritable,
                                              .ambient = plan.ambient};
    security.no_new_privileges = no_new_privileges;
    if (seccomp) {
        auto filter = TRY(security::SeccompFilter::build(*seccomp));
        if (filter.notifies()) return fail("linux.seccomp: SCMP_ACT_NOTIFY is not supported in a microVM");
        security.seccomp = GuestSeccomp{.program = filter.program(), .flags = filter.flags()};
    }
    return security;
}

ErrorOr<GuestConfig> guest_process(const spec::Process& process,
                                   const std::optional<spec::Seccomp>& seccomp) {
    GuestConfig guest;
    guest.args = process.args;
    guest.env = process.env;
    guest.cwd = process.cwd;
    guest.uid = process.user.uid;
    guest.gid = process.user.gid;
    guest.additional_gids.assign(process.user.additional_gids.begin(), process.user.additional_gids.end());
    guest.rlimits = TRY(guest_rlimits(process.rlimits));
    guest.terminal = process.terminal;
    guest.security = TRY(guest_security(process.capabilities, process.no_new_privileges, seccomp));
    return guest;
}

ErrorOr<OciVm> oci_vm(const spec::Spec& spec) {
    OciVm vm;
    vm.process = TRY(guest_process(spec.process, spec.linux_ ? spec.linux_->seccomp : std::nullopt));
    vm.process.hostname = spec.hostname;
    vm.process.namespaces = guest_namespaces_of(spec);
    vm.process.readonly_root = spec.root.readonly;
    if (spec.linux_ && spec.linux_->resources) vm.process.limits = guest_limits(*spec.linux_->resources);
    TRY(add_mounts(spec, vm));
    return vm;
}

}  // namespace hutch::microvm::host
