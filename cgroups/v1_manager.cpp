// The cgroupfs driver for cgroup v1: one directory per hierarchy. It is also the v1 half of a
// hybrid host (hybrid_manager.cpp).
#include <fcntl.h>
#include <signal.h>

#include <algorithm>

#include "cgroups/cgroup_files.h"
#include "cgroups/drivers.h"
#include "cgroups/freezer.h"
#include "cgroups/stats.h"
#include "cgroups/v1_resources.h"

namespace hutch::cgroups {
namespace {

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.find_last_of('/')); }

// A new cpuset cgroup starts with no CPUs and no memory nodes (unless the parent sets
// cgroup.clone_children), and the kernel refuses tasks until both are set: give it its parent's.
ErrorOr<void> inherit_cpuset(const std::string& dir) {
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        std::string value = TRY(read_cgroup_file(parent_of(dir), file));
        TRY(write_cgroup_file(dir, file, value, "cgroups: copy the parent's " + std::string(file)));
    }
    return {};
}

class V1Manager final : public Manager {
public:
    V1Manager(std::vector<Placement> placements, std::vector<std::string> created)
        : placements_(std::move(placements)), created_(std::move(created)) {}

    ErrorOr<void> create(const spec::Resources* resources) override {
        auto result = make_and_limit(resources);
        if (!result && remove_cgroup_trees(created_)) created_.clear();
        return result;
    }

    int clone_target() const override { return -1; }

    ErrorOr<std::vector<UniqueFd>> open_self_join_files() override {
        // `tasks`, not cgroup.procs: the kernel moves a single thread writing "0" without taking
        // the threadgroup rwsem (an RCU grace period, ~7 ms) that a cgroup.procs write takes;
        // measured here 0.03 ms against 7 ms. The child is single-threaded after clone(), so its
        // one thread is the whole process.
        std::vector<UniqueFd> fds;
        for (const Placement& placement : placements_) {
            std::string path = placement.dir + "/tasks";
            UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd) return fail_errno("cgroups: open " + path);
            fds.push_back(std::move(fd));
        }
        return fds;
    }

    ErrorOr<void> add_process(pid_t pid) override {
        for (const Placement& placement : placements_)
            TRY(write_cgroup_file(placement.dir, "cgroup.procs", std::to_string(pid),
                                  "cgroups: add a process"));
        return {};
    }

    ErrorOr<std::vector<pid_t>> pids() const override {
        const Placement* placement = nullptr;
        for (const char* controller : {"pids", "freezer", "memory"}) {
            if (!placement) placement = find_placement(placements_, controller);
        }
        if (!placement) placement = &placements_.front();
        return read_pids_tree(placement->dir);
    }

    ErrorOr<void> signal_all(int sig) override {
        // A paused container stays paused: only a freeze made here is undone.
        const Placement* freezer = find_placement(placements_, "freezer");
        bool frozen = freezer && !is_frozen_v1(freezer->dir).value_or(true) && freeze_v1(freezer->dir);
        auto result = kill_each(TRY(pids()), sig);
        if (frozen) {
            auto thawed = thaw_v1(freezer->dir);
            if (result && !thawed) result = thawed;
        }
        return result;
    }

    ErrorOr<void> freeze() override { return freeze_v1(TRY(freezer_dir())); }
    ErrorOr<void> thaw() override { return thaw_v1(TRY(freezer_dir())); }
    ErrorOr<bool> is_frozen() const override {
        const Placement* freezer = find_placement(placements_, "freezer");
        if (!freezer) return false;
        return is_frozen_v1(freezer->dir);
    }

    ErrorOr<void> update(const spec::Resources& resources) override {
        if (!resources.devices.empty())
            return fail("linux.resources.devices: update does not change a container's device policy");
        return apply_v1_limits(placements_, resources);
    }

    ErrorOr<Stats> stats() const override { return read_v1_stats(placements_); }

    ErrorOr<void> destroy() override { return destroy_created(*this, created_, owns_a_leaf()); }

    std::vector<MountBind> mount_binds() const override {
        std::vector<MountBind> binds;
        for (const Placement& placement : placements_) {
            if (placement.mountpoint.empty()) continue;
            binds.push_back(
                {placement.mountpoint.substr(placement.mountpoint.rfind('/') + 1), placement.dir});
        }
        return binds;
    }

    std::map<std::string, std::string> paths() const override {
        std::map<std::string, std::string> out = {{kLayoutKey, layout_name(Layout::v1)}};
        for (const Placement& placement : placements_) {
            for (const std::string& controller : placement.controllers) out[controller] = placement.dir;
        }
        if (!created_.empty()) out[kCreatedKey] = join_lines(created_);
        return out;
    }

private:
    ErrorOr<void> make_and_limit(const spec::Resources* resources) {
        for (const Placement& placement : placements_) TRY(make_dirs(placement));
        return apply_v1_resources(placements_, resources);
    }

    ErrorOr<void> make_dirs(const Placement& placement) {
        size_t before = created_.size();
        TRY(make_cgroup_dirs(placement.dir, created_));
        if (created_.size() == before) {
            return fail("cgroups: " + placement.dir +
                        " already exists; hutch limits only cgroups it creates (a container left behind? "
                        "delete it with --force)");
        }
        bool cpuset = std::ranges::find(placement.controllers, "cpuset") != placement.controllers.end();
        for (size_t i = before; cpuset && i < created_.size(); ++i) TRY(inherit_cpuset(created_[i]));
        return {};
    }

    ErrorOr<std::string> freezer_dir() const {
        const Placement* freezer = find_placement(placements_, "freezer");
        if (!freezer) return fail("cgroups: the freezer controller is not mounted on this host");
        return freezer->dir;
    }

    bool owns_a_leaf() const {
        return std::ranges::any_of(placements_, [&](const Placement& placement) {
            return std::ranges::find(created_, placement.dir) != created_.end();
        });
    }

    std::vector<Placement> placements_;
    std::vector<std::string> created_;
};

}  // namespace

std::unique_ptr<Manager> make_v1_manager(std::vector<Placement> placements,
                                         std::vector<std::string> created) {
    return std::make_unique<V1Manager>(std::move(placements), std::move(created));
}

}  // namespace hutch::cgroups
