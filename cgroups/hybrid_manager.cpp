// A hybrid host: v1 hierarchies for most controllers, and a cgroup2 mount at
// /sys/fs/cgroup/unified that holds the rest (on Debian 12 with a hybrid boot: hugetlb). The
// container is placed in both when it needs the unified half (needs_unified_hierarchy()); the v1
// half does everything but what lives only in the unified one.
#include "cgroups/drivers.h"

namespace hutch::cgroups {
namespace {

class HybridManager final : public Manager {
public:
    HybridManager(std::unique_ptr<Manager> v1, std::unique_ptr<Manager> unified)
        : v1_(std::move(v1)), unified_(std::move(unified)) {}

    ErrorOr<void> create(const spec::Resources* resources) override {
        static const spec::Resources kNone;
        auto [for_v1, for_unified] = split(resources ? *resources : kNone);
        TRY(v1_->create(&for_v1));
        if (auto made = unified_->create(&for_unified); !made) {
            (void)v1_->destroy();
            return made;
        }
        return {};
    }

    int clone_target() const override { return unified_->clone_target(); }
    ErrorOr<std::vector<UniqueFd>> open_self_join_files() override { return v1_->open_self_join_files(); }
    ErrorOr<UniqueFd> open_exec_target(const std::string& sub) const override {
        return unified_->open_exec_target(sub);
    }

    ErrorOr<void> add_process(pid_t pid) override {
        TRY(v1_->add_process(pid));
        return unified_->add_process(pid);
    }

    ErrorOr<std::vector<pid_t>> pids() const override { return v1_->pids(); }
    ErrorOr<void> signal_all(int sig) override { return v1_->signal_all(sig); }
    ErrorOr<void> freeze() override { return v1_->freeze(); }
    ErrorOr<void> thaw() override { return v1_->thaw(); }
    ErrorOr<bool> is_frozen() const override { return v1_->is_frozen(); }

    ErrorOr<void> update(const spec::Resources& resources) override {
        auto [for_v1, for_unified] = split(resources);
        TRY(v1_->update(for_v1));
        return unified_->update(for_unified);
    }

    ErrorOr<Stats> stats() const override {
        Stats stats = TRY(v1_->stats());
        if (stats.hugetlb_usage.empty()) stats.hugetlb_usage = TRY(unified_->stats()).hugetlb_usage;
        return stats;
    }

    ErrorOr<void> destroy() override {
        auto v1 = v1_->destroy();
        auto unified = unified_->destroy();
        return v1 ? unified : v1;
    }

    std::map<std::string, std::string> paths() const override {
        std::map<std::string, std::string> out = v1_->paths();
        std::map<std::string, std::string> unified = unified_->paths();
        out[kUnifiedKey] = unified[kUnifiedKey];
        out[kLayoutKey] = layout_name(Layout::hybrid);
        std::vector<std::string> created = split_lines(out[kCreatedKey]);
        for (std::string& dir : split_lines(unified[kCreatedKey])) created.push_back(std::move(dir));
        if (created.empty()) {
            out.erase(kCreatedKey);
        } else {
            out[kCreatedKey] = join_lines(created);
        }
        return out;
    }

    std::vector<MountBind> mount_binds() const override {
        std::vector<MountBind> binds = v1_->mount_binds();
        for (MountBind& bind : unified_->mount_binds()) binds.push_back(std::move(bind));
        return binds;
    }

private:
    // hugepageLimits go where hugetlb is mounted (the v1 half's paths() name it when it is there);
    // unified keys only ever to the unified half.
    std::pair<spec::Resources, spec::Resources> split(const spec::Resources& resources) const {
        spec::Resources for_v1 = resources, for_unified;
        for_unified.unified = std::move(for_v1.unified);
        for_v1.unified.clear();
        if (!v1_->paths().contains("hugetlb")) {
            for_unified.hugepage_limits = std::move(for_v1.hugepage_limits);
            for_v1.hugepage_limits.clear();
        }
        return {std::move(for_v1), std::move(for_unified)};
    }

    std::unique_ptr<Manager> v1_;
    std::unique_ptr<Manager> unified_;
};

}  // namespace

std::unique_ptr<Manager> make_hybrid_manager(std::unique_ptr<Manager> v1, std::unique_ptr<Manager> unified) {
    return std::make_unique<HybridManager>(std::move(v1), std::move(unified));
}

}  // namespace hutch::cgroups
