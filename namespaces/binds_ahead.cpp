// build_binds_ahead(): the bind mounts the runtime clones for the container's process before the
// clone, as the host's root (rootfs.h says which and why).
#include <fcntl.h>
#include <sys/mount.h>

#include <algorithm>
#include <map>

#include "namespaces/mounting.h"
#include "namespaces/namespaces.h"

namespace hutch::rootfs {
namespace {

// The user namespaces that idmapped mounts are mapped with, one per distinct pair of mappings:
// each costs a helper process.
class IdmapNamespaces {
public:
    IdmapNamespaces(const spec::Spec& spec, int joined_user) : spec_(spec), joined_user_(joined_user) {}

    // The mount's own mappings, else the container's: those of its new user namespace, or the
    // one it joins (runc's rule; spec/ made sure there is one).
    ErrorOr<int> for_mount(const spec::Mount& m) {
        if (m.uid_mappings.empty() && joined_user_ >= 0) return joined_user_;
        const auto& uids = m.uid_mappings.empty() ? spec_.linux_->uid_mappings : m.uid_mappings;
        const auto& gids = m.gid_mappings.empty() ? spec_.linux_->gid_mappings : m.gid_mappings;
        std::string key = namespaces::format_id_map(uids) + "|" + namespaces::format_id_map(gids);
        auto found = made_.find(key);
        if (found != made_.end()) return found->second.get();
        UniqueFd ns = TRY(namespaces::make_user_namespace(uids, gids));
        return made_.emplace(key, std::move(ns)).first->second.get();
    }

private:
    const spec::Spec& spec_;
    int joined_user_;
    std::map<std::string, UniqueFd> made_;
};

// A clone made outside the container's mount namespace keeps the source's propagation: the clone
// of a shared host mount would be the host's peer, and what the container mounts under it would
// appear on the host. It gets what the container's "/" gets; in a user namespace a shared mount
// becomes a slave first, as the kernel makes it when it copies mounts into one.
ErrorOr<void> give_container_propagation(int tree, unsigned long rootfs, bool recursive,
                                         bool user_namespace) {
    unsigned long rec = recursive ? MS_REC : 0;
    unsigned long type = rootfs & ~static_cast<unsigned long>(MS_REC);
    if (user_namespace && type == MS_SHARED) TRY(set_propagation(tree, MS_SLAVE | rec));
    return set_propagation(tree, type | rec);
}

ErrorOr<UniqueFd> build_bind(const spec::Mount& m, unsigned long propagation, bool user_namespace,
                             IdmapNamespaces& idmaps) {
    auto opts = TRY(parse_mount_options(m.options));
    UniqueFd tree = TRY(clone_tree(AT_FDCWD, m.source, opts.recursive() ? AT_RECURSIVE : 0));
    TRY(give_container_propagation(tree.get(), propagation, opts.recursive(), user_namespace));
    if (!m.idmap) return tree;
    int userns = TRY(idmaps.for_mount(m));
    TRY_CTX(idmap_mount(tree.get(), userns, m.idmap_recursive), "idmap");
    return tree;
}

}  // namespace

ErrorOr<std::vector<UniqueFd>> build_binds_ahead(const spec::Spec& spec, bool user_namespace,
                                                 int joined_user) {
    auto ahead = [&](const spec::Mount& m) { return m.is_bind() && (m.idmap || user_namespace); };
    if (std::ranges::none_of(spec.mounts, ahead)) return std::vector<UniqueFd>{};  // the common case
    std::vector<UniqueFd> built(spec.mounts.size());
    unsigned long propagation = TRY(rootfs_propagation(spec));
    IdmapNamespaces idmaps(spec, joined_user);
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const auto& m = spec.mounts[i];
        if (!ahead(m)) continue;
        built[i] = TRY_CTX(build_bind(m, propagation, user_namespace, idmaps),
                           "mounts[" + std::to_string(i) + "] (" + m.destination + ")");
    }
    return built;
}

}  // namespace hutch::rootfs
