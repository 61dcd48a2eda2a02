// Checks that span sections of config.json: what the namespaces allow the rest of it to ask for.
#include <algorithm>

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

bool is_ipc_sysctl(const std::string& name) {
    return name.starts_with("kernel.msg") || name.starts_with("kernel.shm") || name == "kernel.sem" ||
           name == "kernel.sem_next_id" || name.starts_with("fs.mqueue.");
}

// A sysctl is written inside the container's namespaces; one that no namespace of the container
// covers would change the host, so it is refused (runc's rule).
ErrorOr<void> check_sysctl(const Spec& spec, const std::string& key) {
    std::string name = key;
    std::replace(name.begin(), name.end(), '/', '.');  // "net/ipv4/ip_forward" is the same sysctl
    const std::string path = "linux.sysctl." + key;
    if (is_ipc_sysctl(name)) {
        if (!has_namespace(spec, NamespaceType::ipc))
            return fail(path + ": needs an ipc namespace in linux.namespaces");
        return {};
    }
    if (name.starts_with("net.")) {
        // Joined by path: runc allows it, trusting the caller that the namespace is not the host's.
        if (!has_namespace(spec, NamespaceType::network)) {
            return fail(path + ": needs a network namespace in linux.namespaces");
        }
        return {};
    }
    if (name == "kernel.hostname" || name == "kernel.domainname") {
        if (!has_namespace(spec, NamespaceType::uts))
            return fail(path + ": needs a uts namespace in linux.namespaces");
        return {};
    }
    return fail(path + ": sysctl is not namespaced, refusing to set it for the host");
}

ErrorOr<void> check_sysctls(const Spec& spec) {
    if (!spec.linux_) return {};
    for (const auto& [key, value] : spec.linux_->sysctl) TRY(check_sysctl(spec, key));
    return {};
}

}  // namespace

ErrorOr<void> validate_spec(const Spec& spec) {
    TRY(check_user_namespace(spec));
    TRY(check_uts_names(spec));
    TRY(check_sysctls(spec));
    return {};
}

}  // namespace hutch::spec::detail
