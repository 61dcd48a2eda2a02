// Checks that span sections of config.json: what the namespaces allow the rest of it to ask for.
#include <algorithm>
#include <array>
#include <string_view>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

// A new user namespace without mappings would leave every id in it unmapped (nobody), and
// mappings without a user namespace have nothing to apply to: both are mistakes, as in runc.
ErrorOr<void> check_user_namespace(const Spec& spec) {
    if (!spec.linux_) return {};
    const Linux& linux_spec = *spec.linux_;
    const Namespace* user = find_namespace(spec, NamespaceType::user);
    bool has_mappings = !linux_spec.uid_mappings.empty() || !linux_spec.gid_mappings.empty();
    if (!user) {
        if (has_mappings)
            return fail("linux.uidMappings: id mappings need a user namespace in linux.namespaces");
        return {};
    }
    if (!user->path.empty()) return {};  // joining one: its mappings are already written
    if (linux_spec.uid_mappings.empty()) {
        return fail("linux.uidMappings: required when a new user namespace is requested");
    }
    if (linux_spec.gid_mappings.empty()) {
        return fail("linux.gidMappings: required when a new user namespace is requested");
    }
    return {};
}

// An idmapped mount without mappings of its own takes the container's user namespace (runc's
// rule): without one there is nothing to map with.
ErrorOr<void> check_idmapped_mounts(const Spec& spec) {
    if (find_namespace(spec, NamespaceType::user)) return {};
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& m = spec.mounts[i];
        if (m.idmap && m.uid_mappings.empty())
            return fail("mounts[" + std::to_string(i) +
                        "]: idmap without uidMappings and gidMappings needs a user namespace in "
                        "linux.namespaces");
    }
    return {};
}

// Setting the host's hostname from a container would be a surprise nobody wants.
ErrorOr<void> check_uts_names(const Spec& spec) {
    bool has_uts = has_namespace(spec, NamespaceType::uts);
    if (!spec.hostname.empty() && !has_uts)
        return fail("hostname: setting it needs a uts namespace in linux.namespaces");
    if (!spec.domainname.empty() && !has_uts) {
        return fail("domainname: setting it needs a uts namespace in linux.namespaces");
    }
    return {};
}

// The dotted name a key is matched by, as runc converts it: a key whose first separator is '/'
// ("net/ipv4/conf/eth0.100/forwarding") has its dots and slashes swapped.
std::string sysctl_name(const std::string& key) {
    size_t first = key.find_first_of("./");
    if (first == std::string::npos || key[first] == '.') return key;
    std::string name = key;
    for (char& c : name) c = c == '/' ? '.' : c == '.' ? '/' : c;
    return name;
}

// The IPC namespace's sysctls, as runc lists them (the *_next_id ones are refused there too).
bool is_ipc_sysctl(const std::string& name) {
    static constexpr std::array<std::string_view, 8> kIpc = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    return std::ranges::find(kIpc, name) != kIpc.end() || name.starts_with("fs.mqueue.");
}

// Every component of the file the key names is a name: none empty, "." or "..", so that the
// key names a file beneath /proc/sys and nothing else.
ErrorOr<void> check_sysctl_key(const std::string& key, const std::string& path) {
    if (key.empty()) return fail("linux.sysctl: a key is empty");
    const std::string file = sysctl_path(key);
    for (size_t pos = 0; pos <= file.size();) {
        size_t end = std::min(file.find('/', pos), file.size());
        std::string_view part(file.data() + pos, end - pos);
        if (part.empty() || part == "." || part == "..") return fail(path + ": malformed key");
        pos = end + 1;
    }
    return {};
}

// A sysctl is written inside the container's namespaces; one that no namespace of the container
// covers would change the host, so it is refused. runc's rule, which is the only copy of it:
// the runtime writes what is accepted here.
ErrorOr<void> check_sysctl(const Spec& spec, const std::string& key) {
    const std::string path = "linux.sysctl." + key;
    TRY(check_sysctl_key(key, path));
    const std::string name = sysctl_name(key);
    if (is_ipc_sysctl(name)) {
        if (!has_namespace(spec, NamespaceType::ipc))
            return fail(path + ": needs an ipc namespace in linux.namespaces");
        return {};
    }
    if (name.starts_with("net.")) {
        // Joined by path: allowed, trusting the caller that the namespace is not the host's (runc
        // also compares it with its own network namespace).
        if (!has_namespace(spec, NamespaceType::network)) {
            return fail(path + ": needs a network namespace in linux.namespaces");
        }
        return {};
    }
    // The uts namespace's two: the domain name has no field of its own, the host name has one.
    if (name == "kernel.domainname") {
        if (!has_namespace(spec, NamespaceType::uts))
            return fail(path + ": needs a uts namespace in linux.namespaces");
        return {};
    }
    if (name == "kernel.hostname")
        return fail(path + ": conflicts with the \"hostname\" field; set that instead");
    return fail(path + ": sysctl is not namespaced, refusing to set it for the host");
}

ErrorOr<void> check_sysctls(const Spec& spec) {
    if (!spec.linux_) return {};
    for (const auto& [key, value] : spec.linux_->sysctl) TRY(check_sysctl(spec, key));
    return {};
}

// Moved into the runtime's own network namespace, an interface would go nowhere, and delete would
// "move it back" from the host. A namespace joined by path is trusted not to be the runtime's, as
// for the net.* sysctls.
ErrorOr<void> check_net_devices(const Spec& spec) {
    if (!spec.linux_ || spec.linux_->net_devices.empty()) return {};
    if (!has_namespace(spec, NamespaceType::network))
        return fail("linux.netDevices: needs a network namespace in linux.namespaces");
    return {};
}

}  // namespace

ErrorOr<void> validate_spec(const Spec& spec) {
    TRY(check_user_namespace(spec));
    TRY(check_idmapped_mounts(spec));
    TRY(check_uts_names(spec));
    TRY(check_sysctls(spec));
    TRY(check_net_devices(spec));
    return {};
}

}  // namespace hutch::spec::detail

namespace hutch::spec {

std::string sysctl_path(const std::string& key) {
    if (key.find('/') != std::string::npos) return key;
    std::string path = key;
    std::ranges::replace(path, '.', '/');
    return path;
}

}  // namespace hutch::spec
