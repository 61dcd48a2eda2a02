// The cgroupfs driver for cgroup v1, which also serves the hybrid layout (v1 controllers plus a
// cgroup2 mount that holds none of the controllers a container is limited by here).
#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "cgroups/cgroup_files.h"
#include "cgroups/hierarchies.h"
#include "cgroups/manager.h"
#include "cgroups/placement.h"
#include "cgroups/v1_resources.h"

namespace hutch::cgroups {
namespace {

// The paths() key that records the directories this manager made, newline-separated in the
// order made (parents first), so that a manager reopened from state removes exactly those.
constexpr const char* kCreatedKey = "hutch:created";

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

ErrorOr<std::vector<pid_t>> read_pids_tree(const std::string& dir) {
    std::vector<pid_t> pids;
    std::error_code ec;
    std::vector<std::string> dirs = {dir};
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    for (const std::string& at : dirs) {
        auto text = read_file(at + "/cgroup.procs");
        if (!text && text.error().code == ENOENT) continue;  // removed meanwhile
        if (!text) return std::unexpected(text.error().context("cgroups"));
        for (size_t pos = 0; pos < text->size();) {
            size_t end = std::min(text->find('\n', pos), text->size());
            if (end > pos) pids.push_back(static_cast<pid_t>(std::stol(text->substr(pos, end - pos))));
            pos = end + 1;
        }
    }
    std::ranges::sort(pids);
    auto [first, last] = std::ranges::unique(pids);
    pids.erase(first, last);
    return pids;
}

// Freezes the cgroup so that nothing forks while it is being signalled. v1 may report FREEZING
// for a while (a task in an uninterruptible sleep); the write is repeated, as runc does.
bool freeze(const std::string& dir) {
    using namespace std::chrono_literals;
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!write_cgroup_file(dir, "freezer.state", "FROZEN", "cgroups: freeze")) return false;
        auto state = read_cgroup_file(dir, "freezer.state");
        if (!state) return false;
        if (*state == "FROZEN") return true;
        std::this_thread::sleep_for(1ms);
    }
    (void)write_cgroup_file(dir, "freezer.state", "THAWED", "cgroups: thaw");
    return false;
}

class V1Manager final : public Manager {
public:
    V1Manager(std::vector<Placement> placements, std::vector<std::string> created)
        : placements_(std::move(placements)), created_(std::move(created)) {}

    ErrorOr<void> create(const spec::Resources* resources) override {
        auto result = make_and_limit(resources);
        if (!result && remove_created()) created_.clear();
        return result;
    }

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

    ErrorOr<std::vector<pid_t>> pids() const override {
        const Placement* placement = nullptr;
        for (const char* controller : {"pids", "freezer", "memory"}) {
            if (!placement) placement = find_placement(placements_, controller);
        }
        if (!placement) placement = &placements_.front();
        return read_pids_tree(placement->dir);
    }

    ErrorOr<void> signal_all(int sig) override {
        const Placement* freezer = find_placement(placements_, "freezer");
        bool frozen = freezer && freeze(freezer->dir);
        auto result = kill_each(sig);
        if (frozen) {
            auto thawed = write_cgroup_file(freezer->dir, "freezer.state", "THAWED", "cgroups: thaw");
            if (result && !thawed) result = thawed;
        }
        return result;
    }

    ErrorOr<void> destroy() override {
        // Usually the cgroups are empty by now (the container's pid namespace ended with its
        // init), so first one rmdir per directory, deepest first; only if one fails is there
        // anything to kill and wait for. Only a cgroup this manager made is emptied: the
        // placements of a manager that made none belong to someone else.
        if (std::all_of(created_.rbegin(), created_.rend(), try_remove_cgroup_dir)) {
            created_.clear();
            return {};
        }
        if (owns_a_leaf()) {
            auto left = pids();
            if (!left || !left->empty()) (void)signal_all(SIGKILL);
        }
        TRY(remove_created());
        created_.clear();
        return {};
    }

    std::vector<HierarchyBind> hierarchy_binds() const override {
        std::vector<HierarchyBind> binds;
        for (const Placement& placement : placements_)
            if (!placement.mountpoint.empty()) binds.push_back({placement.mountpoint, placement.dir});
        return binds;
    }

    std::map<std::string, std::string> paths() const override {
        std::map<std::string, std::string> out;
        for (const Placement& placement : placements_) {
            for (const std::string& controller : placement.controllers) out[controller] = placement.dir;
        }
        std::string created;
        for (const std::string& dir : created_) created += (created.empty() ? "" : "\n") + dir;
        if (!created.empty()) out[kCreatedKey] = created;
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

    ErrorOr<void> kill_each(int sig) const {
        std::vector<pid_t> targets = TRY(pids());
        for (pid_t pid : targets) {
            if (::kill(pid, sig) != 0 && errno != ESRCH)
                return fail_errno("cgroups: kill " + std::to_string(pid));
        }
        return {};
    }

    bool owns_a_leaf() const {
        return std::ranges::any_of(placements_, [&](const Placement& placement) {
            return std::ranges::find(created_, placement.dir) != created_.end();
        });
    }

    // Deepest first: created_ lists parents before children, per hierarchy.
    ErrorOr<void> remove_created() {
        ErrorOr<void> result;
        for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
            auto removed = remove_cgroup_tree(*it);
            if (result && !removed) result = removed;
        }
        return result;
    }

    std::vector<Placement> placements_;
    std::vector<std::string> created_;
};

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find('\n', pos), text.size());
        if (end > pos) lines.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return lines;
}

}  // namespace

ErrorOr<std::unique_ptr<Manager>> make_manager(const std::string& cgroups_path,
                                               const std::string& container_id) {
    if (host_is_pure_v2())
        return fail("cgroups: this host uses cgroup v2 alone; cgroup v2 is not supported yet");
    std::vector<Hierarchy> hierarchies = TRY(host_v1_hierarchies());
    std::map<std::string, std::string> own = TRY(own_cgroups());
    std::vector<Placement> placements = TRY(resolve_placements(hierarchies, own, cgroups_path, container_id));
    return std::make_unique<V1Manager>(std::move(placements), std::vector<std::string>{});
}

std::unique_ptr<Manager> manager_from_paths(const std::map<std::string, std::string>& paths) {
    std::vector<Placement> placements;
    std::vector<std::string> created;
    for (const auto& [key, dir] : paths) {
        if (key == kCreatedKey) {
            created = split_lines(dir);
            continue;
        }
        auto same = std::ranges::find(placements, dir, &Placement::dir);
        if (same == placements.end()) {
            placements.push_back(Placement{{key}, dir});
        } else {
            same->controllers.push_back(key);
        }
    }
    return std::make_unique<V1Manager>(std::move(placements), std::move(created));
}

}  // namespace hutch::cgroups
