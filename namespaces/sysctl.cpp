// linux.sysctl, written in the child under the container's /proc/sys, each key confined beneath
// it. Which keys a container may set is spec/'s rule (spec/validate.cpp): this only writes them.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"
#include "namespaces/rootfs.h"

namespace hutch::rootfs {

ErrorOr<void> apply_sysctls(const std::map<std::string, std::string>& sysctls) {
    if (sysctls.empty()) return {};
    UniqueFd proc_sys(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!proc_sys) return fail_errno("linux.sysctl: open /proc/sys");
    for (const auto& [key, value] : sysctls) {
        std::string path = spec::sysctl_path(key);
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
