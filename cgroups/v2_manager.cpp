// The cgroupfs driver for cgroup v2: one directory in one hierarchy. The container's first
// process is born in it (clone_target()); device access is a BPF program attached to it.
#include <fcntl.h>
#include <signal.h>

#include <algorithm>

#include "cgroups/cgroup_files.h"
#include "cgroups/device_program.h"
#include "cgroups/drivers.h"
#include "cgroups/freezer.h"
#include "cgroups/stats.h"
#include "cgroups/v2_resources.h"

namespace hutch::cgroups {
namespace {

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.find_last_of('/')); }

// Hands every controller that dir's parent has on to dir's children (cgroup.subtree_control),
// where it is not yet. The kernel refuses this for a cgroup with processes of its own other than
// the root ("no internal processes"); a controller that cannot be enabled is left out, and a
// limit that needs it then fails naming it.
ErrorOr<void> delegate_controllers(const std::string& dir) {
    std::vector<std::string> available = split_words(TRY(read_cgroup_file(dir, "cgroup.controllers")));
    std::vector<std::string> enabled = split_words(TRY(read_cgroup_file(dir, "cgroup.subtree_control")));
    std::string missing;
    for (const std::string& controller : available)
        if (std::ranges::find(enabled, controller) == enabled.end()) missing += "+" + controller + " ";
    if (missing.empty()) return {};
    if (write_cgroup_file(dir, "cgroup.subtree_control", missing, "cgroups: enable controllers")) return {};
    // All or nothing in one write: one by one, so that one busy controller does not stop the rest.
    for (const std::string& controller : split_words(missing))
        (void)write_cgroup_file(dir, "cgroup.subtree_control", controller, "cgroups: enable " + controller);
    return {};
}

// exec --cgroup names a directory below the container's cgroup, never one beside or above it.
ErrorOr<void> check_sub_cgroup(const std::string& sub) {
    auto refuse = [&] {
        return fail("--cgroup " + sub + ": expected a relative path below the container's cgroup");
    };
    if (sub.starts_with('/')) return refuse();
    for (size_t start = 0; start <= sub.size();) {
        size_t end = std::min(sub.find('/', start), sub.size());
        std::string_view part = std::string_view(sub).substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return refuse();
        start = end + 1;
    }
    return {};
}

class V2Manager final : public Manager {
public:
    V2Manager(std::string dir, std::vector<std::string> created, bool only_unified, bool reopened)
        : dir_(std::move(dir)),
          created_(std::move(created)),
          only_unified_(only_unified),
          reopened_(reopened) {}

    ErrorOr<void> create(const spec::Resources* resources) override {
        auto result = make_and_limit(resources);
        if (!result && remove_cgroup_trees(created_)) created_.clear();
        return result;
    }

    int clone_target() const override { return dir_fd_.get(); }

    ErrorOr<std::vector<UniqueFd>> open_self_join_files() override { return std::vector<UniqueFd>{}; }

    ErrorOr<UniqueFd> open_exec_target(const std::string& sub) const override {
        std::string dir = dir_;
        if (!sub.empty()) {
            TRY(check_sub_cgroup(sub));
            dir += "/" + sub;
        }
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return fail_errno("cgroups: open " + dir);
        return fd;
    }

    ErrorOr<void> add_process(pid_t pid) override {
        return write_cgroup_file(dir_, "cgroup.procs", std::to_string(pid), "cgroups: add a process");
    }

    ErrorOr<std::vector<pid_t>> pids() const override { return read_pids_tree(dir_); }

    ErrorOr<void> signal_all(int sig) override {
        // cgroup.kill (5.14) kills the whole tree at once, forks in flight included.
        if (sig == SIGKILL && cgroup_file_exists(dir_, "cgroup.kill"))
            return write_cgroup_file(dir_, "cgroup.kill", "1", "cgroups: kill");
        bool frozen = !TRY(is_frozen()) && freeze_v2(dir_);
        auto result = kill_each(TRY(pids()), sig);
        if (frozen) {
            auto thawed = thaw_v2(dir_);
            if (result && !thawed) result = thawed;
        }
        return result;
    }

    ErrorOr<void> freeze() override { return freeze_v2(dir_); }
    ErrorOr<void> thaw() override { return thaw_v2(dir_); }
    ErrorOr<bool> is_frozen() const override { return is_frozen_v2(dir_); }

    ErrorOr<void> update(const spec::Resources& resources) override {
        return apply_v2_limits(dir_, TRY(prepare_v2_update(dir_, resources)));
    }

    ErrorOr<Stats> stats() const override { return read_v2_stats(dir_); }

    ErrorOr<void> destroy() override {
        return destroy_created(*this, created_, std::ranges::find(created_, dir_) != created_.end());
    }

    std::map<std::string, std::string> paths() const override {
        std::map<std::string, std::string> out = {{kLayoutKey, layout_name(Layout::v2)}, {kUnifiedKey, dir_}};
        if (!created_.empty()) out[kCreatedKey] = join_lines(created_);
        return out;
    }

    std::vector<MountBind> mount_binds() const override {
        if (reopened_) return {};
        return {MountBind{only_unified_ ? "unified" : "", dir_}};
    }

private:
    ErrorOr<void> make_and_limit(const spec::Resources* resources) {
        size_t before = created_.size();
        TRY(make_cgroup_dirs(dir_, created_));
        if (created_.size() == before) {
            return fail("cgroups: " + dir_ +
                        " already exists; hutch limits only cgroups it creates (a container left behind? "
                        "delete it with --force)");
        }
        // Top-down: each level can only pass on what its parent passed to it.
        std::vector<std::string> chain;
        for (std::string at = parent_of(dir_); at.size() >= root().size(); at = parent_of(at))
            chain.push_back(at);
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) TRY(delegate_controllers(*it));
        dir_fd_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd_) return fail_errno("cgroups: open " + dir_);
        static const spec::Resources kNone;
        const spec::Resources& r = resources ? *resources : kNone;
        if (!only_unified_)
            TRY(attach_device_program(dir_fd_.get(), device_policy(device_writes(r.devices))));
        return apply_v2_limits(dir_, r);
    }

    // The cgroup2 mount this directory lies under: /sys/fs/cgroup, or /sys/fs/cgroup/unified.
    std::string root() const { return only_unified_ ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"; }

    std::string dir_;
    std::vector<std::string> created_;
    bool only_unified_;
    bool reopened_;
    UniqueFd dir_fd_;
};

}  // namespace

std::unique_ptr<Manager> make_v2_manager(std::string dir, std::vector<std::string> created,
                                         bool only_unified) {
    bool reopened = !created.empty();
    return std::make_unique<V2Manager>(std::move(dir), std::move(created), only_unified, reopened);
}

}  // namespace hutch::cgroups
