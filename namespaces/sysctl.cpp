// linux.sysctl: keys checked in the parent (only namespaced sysctls, as runc allows), values
// written in the child under the container's /proc/sys, the key confined beneath it.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "base/file.h"
#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward". A key written with slashes keeps its dots, as
// sysctl(8) reads it: that is how "net/ipv4/conf/eth0.100/forwarding" names a VLAN interface.
std::string key_to_path(const std::string& key) {
    if (key.find('/') != std::string::npos) return key;
    std::string path = key;
    std::ranges::replace(path, '.', '/');
    return path;
}

// The dotted form, for matching against the namespaced families.
std::string key_to_name(const std::string& key) {
    if (key.find('/') == std::string::npos) return key;
    std::string name = key;
    std::ranges::replace(name, '/', '.');
    return name;
}

bool is_ipc_sysctl(const std::string& name) {
    static constexpr std::array<std::string_view, 8> kIpc{
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    return std::ranges::find(kIpc, name) != kIpc.end() || name.starts_with("fs.mqueue.");
}

ErrorOr<void> check_key_shape(const std::string& key) {
    if (key.empty()) return fail("empty key");
    std::string path = key_to_path(key);
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t end = std::min(path.find('/', pos), path.size());
        std::string_view part(path.data() + pos, end - pos);
        if (part.empty() || part == "." || part == "..") return fail("malformed key");
        pos = end + 1;
    }
    return {};
}

}  // namespace

ErrorOr<void> validate_sysctl(const spec::Spec& spec, const std::string& key) {
    TRY(check_key_shape(key));
    std::string name = key_to_name(key);
    if (is_ipc_sysctl(name)) {
        if (spec::has_namespace(spec, spec::NamespaceType::ipc)) return {};
        return fail("not allowed in the host's IPC namespace");
    }
    if (name.starts_with("net.")) {
        if (spec::has_namespace(spec, spec::NamespaceType::network)) return {};
        return fail("not allowed in the host's network namespace");
    }
    if (spec::has_namespace(spec, spec::NamespaceType::uts)) {
        if (name == "kernel.domainname") return {};
        if (name == "kernel.hostname") return fail("conflicts with the \"hostname\" field; set that instead");
    }
    return fail("not in a namespace of the container's own; it would change the host");
}

ErrorOr<void> apply_sysctls(const std::map<std::string, std::string>& sysctls) {
    if (sysctls.empty()) return {};
    UniqueFd proc_sys(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!proc_sys) return fail_errno("linux.sysctl: open /proc/sys");
    for (const auto& [key, value] : sysctls) {
        std::string path = key_to_path(key);
        std::string ctx = "linux.sysctl." + key + ": write /proc/sys/" + path;
        // Beneath /proc/sys with no symlinks at all: a key cannot name any other file.
        struct open_how how {};
        how.flags = O_WRONLY | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, proc_sys.get(), path.c_str(), &how, sizeof how)));
        if (!fd) return fail_errno(ctx);
        // One write: a sysctl takes its whole value in one call.
        if (::write(fd.get(), value.data(), value.size()) < 0) return fail_errno(ctx);
    }
    return {};
}

}  // namespace hutch::rootfs
