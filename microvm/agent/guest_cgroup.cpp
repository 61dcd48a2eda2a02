#include "microvm/agent/guest_cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cgroups/cgroup_files.h"

namespace hutch::microvm::agent {

namespace {

constexpr const char* cgroup_root = "/sys/fs/cgroup";
constexpr const char* container_cgroup = "/sys/fs/cgroup/container";

// "max" where the limit is -1, as runc writes it.
std::string number_or_max(int64_t value) { return value < 0 ? "max" : std::to_string(value); }

ErrorOr<void> write_limits(const GuestLimits& limits) {
    if (limits.memory_bytes)
        TRY(cgroups::write_cgroup_file(container_cgroup, "memory.max", std::to_string(*limits.memory_bytes),
                                       "memory limit"));
    if (limits.cpu_quota)
        TRY(cgroups::write_cgroup_file(
            container_cgroup, "cpu.max",
            std::to_string(*limits.cpu_quota) + " " + std::to_string(limits.cpu_period), "cpu quota"));
    if (limits.pids_max)
        TRY(cgroups::write_cgroup_file(container_cgroup, "pids.max", number_or_max(*limits.pids_max),
                                       "pids limit"));
    return {};
}

}  // namespace

ErrorOr<UniqueFd> make_container_cgroup(const GuestLimits& limits) {
    // The root cgroup hands the controllers down; the container's cgroup is a leaf, so it may
    // hold processes with them enabled.
    TRY(cgroups::write_cgroup_file(cgroup_root, "cgroup.subtree_control", "+cpu +memory +pids",
                                   "cgroup controllers"));
    std::vector<std::string> created;
    TRY(cgroups::make_cgroup_dirs(container_cgroup, created));
    TRY(write_limits(limits));
    std::string procs = std::string(container_cgroup) + "/cgroup.procs";
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open " + procs);
    return fd;
}

bool join_cgroup(int procs_fd) { return ::write(procs_fd, "0", 1) == 1; }

}  // namespace hutch::microvm::agent
