// The systemd driver's Manager: systemd makes, limits and removes the scope (through the
// hutch-systemd helper); everything else is the v2 driver acting on the scope's directory, which
// systemd delegates to us (Delegate=true).
#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <set>

#include "base/log.h"
#include "cgroups/cgroup_files.h"
#include "cgroups/device_program.h"
#include "cgroups/drivers.h"
#include "cgroups/systemd.h"
#include "cgroups/systemd_helper.h"
#include "cgroups/systemd_path.h"
#include "cgroups/systemd_properties.h"
#include "cgroups/v2_resources.h"

namespace hutch::cgroups {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";

// The controllers resources need beyond those systemd enables for a scope itself (memory, cpu,
// io and pids through the accounting properties, cpuset through AllowedCPUs, all of them through
// Delegate): hugetlb, rdma, misc, which systemd does not manage, and those of unified keys.
std::set<std::string> controllers_needed(const spec::Resources& r) {
    std::set<std::string> out;
    if (!r.hugepage_limits.empty()) out.insert("hugetlb");
    if (!r.rdma.empty()) out.insert("rdma");
    for (const auto& [key, value] : r.unified) out.insert(key.substr(0, key.find('.')));
    out.erase("cgroup");
    return out;
}

// Enables what the scope lacks of wanted in each of its ancestors' cgroup.subtree_control, top
// down, as runc does. One that cannot be enabled is left out: the limit that needs it then fails
// naming its field.
void enable_for_scope(const std::string& dir, const std::set<std::string>& wanted) {
    auto have = read_cgroup_file(dir, "cgroup.controllers");
    if (!have) return;
    std::vector<std::string> words = split_words(*have);
    std::set<std::string> enabled(words.begin(), words.end());
    std::vector<std::string> missing;
    for (const std::string& c : wanted)
        if (!enabled.contains(c)) missing.push_back(c);
    if (missing.empty()) return;
    std::string level = kRoot;
    std::string below = dir.substr(level.size());  // "/system.slice/hutch-ID.scope"
    for (size_t pos = 1;;) {
        for (const std::string& c : missing)
            (void)write_cgroup_file(level, "cgroup.subtree_control", "+" + c, "cgroups: enable " + c);
        size_t end = below.find('/', pos);
        if (end == std::string::npos) return;  // the scope's own: the container's to manage
        level = kRoot + below.substr(0, end);
        pos = end + 1;
    }
}

class SystemdManager final : public Manager {
public:
    SystemdManager(SystemdPlace place, std::string container_id, pid_t pid, bool reopened)
        : place_(std::move(place)),
          container_id_(std::move(container_id)),
          pid_(pid),
          reopened_(reopened),
          v2_(make_v2_manager(place_.dir, {})) {}

    ErrorOr<void> create(const spec::Resources* resources) override {
        static const spec::Resources kNone;
        const spec::Resources& r = resources ? *resources : kNone;
        auto started = std::chrono::steady_clock::now();
        TRY(check_host());
        TRY(call("start", TRY(scope_properties(container_id_, place_.slice, pid_, &r))));
        auto limited = limit_through_cgroupfs(r);
        if (!limited) {
            (void)destroy();
            return limited;
        }
        auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        log::debug("cgroups: systemd scope " + place_.unit + " started and limited in " +
                   std::to_string(us.count()) + " us");
        return {};
    }

    // systemd moves the process in (PIDs): nothing to be born into, nothing to join.
    int clone_target() const override { return -1; }
    ErrorOr<std::vector<UniqueFd>> open_self_join_files() override { return std::vector<UniqueFd>{}; }
    // Once the scope exists, a process is born into it like into any cgroup2 directory.
    ErrorOr<UniqueFd> open_exec_target(const std::string& sub) const override {
        return v2_->open_exec_target(sub);
    }

    ErrorOr<void> add_process(pid_t pid) override { return v2_->add_process(pid); }
    ErrorOr<std::vector<pid_t>> pids() const override { return v2_->pids(); }
    ErrorOr<void> signal_all(int sig) override { return v2_->signal_all(sig); }
    ErrorOr<void> freeze() override { return v2_->freeze(); }
    ErrorOr<void> thaw() override { return v2_->thaw(); }
    ErrorOr<bool> is_frozen() const override { return v2_->is_frozen(); }
    ErrorOr<Stats> stats() const override { return v2_->stats(); }

    // systemd first, so that the cgroup files end with the exact values (systemd rounds a CPU
    // quota to 10 ms) and systemd keeps the limits it knows across a daemon-reload.
    ErrorOr<void> update(const spec::Resources& resources) override {
        spec::Resources update = TRY(prepare_v2_update(place_.dir, resources));
        std::vector<systemd::Property> properties = TRY(resource_properties(update));
        if (!properties.empty()) TRY(call("set", std::move(properties)));
        enable_for_scope(place_.dir, controllers_needed(update));
        return apply_v2_limits(place_.dir, update);
    }

    // What is left is killed first: stopping a scope sends SIGTERM and waits up to 90 s for it.
    // systemd removes the scope's cgroup as the unit stops; what the container made below it
    // and systemd left is removed here.
    ErrorOr<void> destroy() override {
        auto left = v2_->pids();
        if (left && !left->empty()) (void)v2_->signal_all(SIGKILL);
        TRY(call("stop", {}));
        return remove_cgroup_tree(place_.dir);
    }

    std::map<std::string, std::string> paths() const override {
        return {{kLayoutKey, layout_name(Layout::v2)},
                {kDriverKey, kSystemdDriver},
                {kUnitKey, place_.unit},
                {kUnifiedKey, place_.dir}};
    }

    std::vector<MountBind> mount_binds() const override {
        if (reopened_) return {};
        return {MountBind{"", place_.dir}};
    }

private:
    // The scope's files are written through /sys/fs/cgroup, which must be the cgroup2 mount. A
    // host without systemd is told so first: that is what is wrong there, whatever its layout.
    ErrorOr<void> check_host() {
        Layout layout = detect_layout();
        if (layout == Layout::v2) return {};
        TRY(call("ping", {}));
        return fail("--systemd-cgroup: hutch's systemd driver needs a pure cgroup v2 host; this one is " +
                    std::string(layout_name(layout)));
    }

    ErrorOr<void> call(std::string_view verb, std::vector<systemd::Property> properties) {
        systemd::Request request{.unit = place_.unit, .properties = std::move(properties)};
        nlohmann::json answer = TRY(run_systemd_helper(verb, request));
        log::debug("cgroups: hutch-systemd " + std::string(verb) + " " + place_.unit + ": " + answer.dump());
        return {};
    }

    // After systemd's job: what it has no property for, written again where it has (the same
    // values; cgroup v2's memory.max and memory.swap.max are independent, so the order in
    // which both are written does not matter), and the device program beside systemd's.
    ErrorOr<void> limit_through_cgroupfs(const spec::Resources& r) {
        enable_for_scope(place_.dir, controllers_needed(r));
        UniqueFd dir_fd(::open(place_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd) return fail_errno("cgroups: open " + place_.dir + " (the scope systemd made)");
        TRY(attach_device_program(dir_fd.get(), device_policy(device_writes(r.devices))));
        return apply_v2_limits(place_.dir, r);
    }

    SystemdPlace place_;
    std::string container_id_;
    pid_t pid_;
    bool reopened_;
    std::unique_ptr<Manager> v2_;  // the scope's directory through cgroupfs
};

}  // namespace

ErrorOr<std::unique_ptr<Manager>> make_systemd_manager(const std::string& cgroups_path,
                                                       const std::string& container_id, pid_t pid) {
    SystemdPlace place = TRY(resolve_systemd_path(cgroups_path, container_id));
    return std::make_unique<SystemdManager>(std::move(place), container_id, pid, false);
}

bool is_systemd_paths(const std::map<std::string, std::string>& paths) {
    auto it = paths.find(kDriverKey);
    return it != paths.end() && it->second == kSystemdDriver;
}

std::unique_ptr<Manager> reopen_systemd_manager(const std::map<std::string, std::string>& paths) {
    auto get = [&](const char* key) {
        auto it = paths.find(key);
        return it == paths.end() ? std::string() : it->second;
    };
    SystemdPlace place{.slice = "", .unit = get(kUnitKey), .dir = get(kUnifiedKey)};
    return std::make_unique<SystemdManager>(std::move(place), "", 0, true);
}

}  // namespace hutch::cgroups
