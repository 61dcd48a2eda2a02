#include "microvm/agent/guest_cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "cgroups/cgroup_files.h"
#include "cgroups/resource_values.h"
#include "cgroups/stats.h"

namespace hutch::microvm::agent {

namespace {

constexpr const char* cgroup_root = "/sys/fs/cgroup";
constexpr const char* container_cgroup = "/sys/fs/cgroup/container";

ErrorOr<UniqueFd> open_in(const std::string& path, int flags) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) return fail_errno("open " + path);
    return fd;
}

// cpu.max is "QUOTA PERIOD" in one file: a new period alone keeps the quota, as a host's update
// does (cgroups/v2_resources.h).
ErrorOr<std::string> cpu_max_value(const std::string& dir, const GuestLimits& limits) {
    std::optional<int64_t> quota = limits.cpu_quota;
    if (!quota) quota = TRY(cgroups::quota_of_cpu_max(TRY(cgroups::read_cgroup_file(dir, "cpu.max"))));
    std::optional<uint64_t> period;
    if (limits.cpu_period) period = static_cast<uint64_t>(*limits.cpu_period);
    return cgroups::cpu_max(quota, period);
}

}  // namespace

// The directory, whatever the agent's root: through the fd's magic link.
std::string ContainerCgroup::path() const { return "/proc/self/fd/" + std::to_string(dir.get()); }

ErrorOr<cgroups::Stats> ContainerCgroup::read_stats() const { return cgroups::read_v2_stats(path()); }

ErrorOr<std::vector<pid_t>> ContainerCgroup::pids() const {
    std::string procs = TRY(cgroups::read_cgroup_file(path(), "cgroup.procs"));
    std::vector<pid_t> pids;
    std::istringstream lines(procs);
    for (pid_t pid; lines >> pid;) pids.push_back(pid);
    return pids;
}

ErrorOr<void> ContainerCgroup::write_limits(const GuestLimits& limits) const {
    std::string path = this->path();
    if (limits.memory_bytes)
        TRY(cgroups::write_cgroup_file(path, "memory.max", cgroups::bytes_or_max(*limits.memory_bytes),
                                       "memory limit"));
    if (limits.cpu_quota || limits.cpu_period)
        TRY(cgroups::write_cgroup_file(path, "cpu.max", TRY(cpu_max_value(path, limits)), "cpu quota"));
    if (limits.memory_low)
        TRY(cgroups::write_cgroup_file(path, "memory.low", cgroups::bytes_or_max(*limits.memory_low),
                                       "memory reservation"));
    if (limits.cpu_weight)
        TRY(cgroups::write_cgroup_file(path, "cpu.weight", std::to_string(*limits.cpu_weight), "cpu shares"));
    if (limits.pids_max)
        TRY(cgroups::write_cgroup_file(
            path, "pids.max", *limits.pids_max < 0 ? "max" : std::to_string(*limits.pids_max), "pids limit"));
    // Last, so that they win, as on a host (cgroups/v2_resources.h).
    for (const auto& [name, value] : limits.unified)
        TRY(cgroups::write_cgroup_file(path, name, value, "unified[\"" + name + "\"]"));
    return {};
}

ErrorOr<ContainerCgroup> make_container_cgroup(const GuestLimits& limits) {
    // The root cgroup hands the controllers down; the container's cgroup is a leaf, so it may
    // hold processes with them enabled.
    TRY(cgroups::write_cgroup_file(cgroup_root, "cgroup.subtree_control", "+cpu +memory +pids",
                                   "cgroup controllers"));
    std::vector<std::string> created;
    TRY(cgroups::make_cgroup_dirs(container_cgroup, created));
    ContainerCgroup cgroup;
    cgroup.dir = TRY(open_in(container_cgroup, O_PATH | O_DIRECTORY));
    cgroup.procs = TRY(open_in(std::string(container_cgroup) + "/cgroup.procs", O_WRONLY));
    TRY(cgroup.write_limits(limits));
    return cgroup;
}

bool join_cgroup(int procs_fd) { return ::write(procs_fd, "0", 1) == 1; }

}  // namespace hutch::microvm::agent
