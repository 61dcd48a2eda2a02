// Step 1: the rootfs and the mounts of config.json, before pivot_root. Each destination is resolved
// (and created) inside the rootfs and mounted onto through the O_PATH fd that resolution returned.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/file.h"
#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

// Flags that a bind remount may change; MS_BIND, MS_REC and MS_REMOUNT are how it is asked.
constexpr unsigned long kBindMechanics = MS_BIND | MS_REC | MS_REMOUNT;
constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
constexpr unsigned long kLockable =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME | kAtimeFlags;

const char* data_or_null(const std::string& data) { return data.empty() ? nullptr : data.c_str(); }

ErrorOr<void> sys_mount(const std::string& source, const std::string& target, const char* type,
                        unsigned long flags, const char* data, const std::string& what) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags, data) != 0)
        return fail_errno(what);
    return {};
}

// Remounts a bind mount with new per-mount flags. In a user namespace the kernel refuses to drop
// flags the mount was locked with (EPERM), so on EPERM we retry keeping the mount's own ones.
ErrorOr<void> remount_bind(int fd, unsigned long flags) {
    std::string target = fd_path(fd);
    if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) == 0) return {};
    if (errno != EPERM) return fail_errno("remount");
    unsigned long current = TRY(mount_flags_of(fd));
    unsigned long keep = current & kLockable;
    if (flags & kAtimeFlags) keep &= ~kAtimeFlags;  // an explicit access-time option wins
    return sys_mount("", target, nullptr, MS_REMOUNT | MS_BIND | flags | keep, nullptr, "remount");
}

// A mount over a file of procfs could hide or fake what the kernel tells the container
// (/proc/self/attr, /proc/sys/...): refused except for the files lxcfs is known to provide.
ErrorOr<void> refuse_procfs_target(int fd, const std::string& destination) {
    struct statfs st {};
    if (::fstatfs(fd, &st) != 0) return fail_errno("statfs");
    if (st.f_type != PROC_SUPER_MAGIC) return {};
    static constexpr std::array<std::string_view, 10> kAllowed{
        "/proc/cpuinfo", "/proc/diskstats",
        "/proc/meminfo", "/proc/stat",
        "/proc/swaps",   "/proc/uptime",
        "/proc/loadavg", "/proc/slabinfo",
        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
    if (std::ranges::find(kAllowed, clean_path(destination)) != kAllowed.end()) return {};
    return fail("destination lies on procfs; mounting over it is not allowed");
}

ErrorOr<void> apply_propagation_and_attrs(int root_fd, const spec::Mount& m, const MountOptions& opts) {
    if (opts.propagation.empty() && opts.attr_set == 0 && opts.attr_clr == 0) return {};
    // The destination now resolves to the root of the new mount, which is what we change.
    UniqueFd top = TRY(open_in_root(root_fd, m.destination, Create::nothing));
    for (unsigned long prop : opts.propagation)
        TRY(sys_mount("", fd_path(top.get()), nullptr, prop, nullptr, "set propagation"));
    if (opts.attr_set == 0 && opts.attr_clr == 0) return {};
    struct mount_attr attr {};
    attr.attr_set = opts.attr_set;
    attr.attr_clr = opts.attr_clr;
    if (::mount_setattr(top.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
        return fail_errno("mount_setattr");
    return {};
}

// Host paths to bind instead when a filesystem cannot be mounted afresh: sysfs in a user namespace
// without its own network namespace, mqueue in one without its own IPC namespace (as runc does).
std::string fallback_source(const std::string& type) {
    if (type == "sysfs") return "/sys";
    if (type == "mqueue") return "/dev/mqueue";
    return "";
}

ErrorOr<void> mount_bind(int root_fd, const spec::Mount& m, const MountOptions& opts) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) return fail_errno("source " + m.source);
    Create create = S_ISDIR(st.st_mode) ? Create::directory : Create::file;
    UniqueFd target = TRY(open_in_root(root_fd, m.destination, create));
    TRY(refuse_procfs_target(target.get(), m.destination));
    TRY(sys_mount(m.source, fd_path(target.get()), nullptr, MS_BIND | (opts.flags & MS_REC), nullptr,
                  "bind " + m.source));
    unsigned long extra = opts.flags & ~kBindMechanics;
    if (extra == 0) return {};
    UniqueFd top = TRY(open_in_root(root_fd, m.destination, Create::nothing));
    return remount_bind(top.get(), extra);
}

// ---- tmpcopyup: the directory's content copied into the new tmpfs ----

ErrorOr<void> copy_tree(int src_dir, int dst_dir);

ErrorOr<void> copy_file_data(int src_dir, int dst_dir, const char* name, const struct stat& st) {
    UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return fail_errno(std::string("open ") + name);
    UniqueFd out(
        ::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
    if (!out) return fail_errno(std::string("create ") + name);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = ::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(left));
        if (n < 0) return fail_errno(std::string("copy ") + name);
        if (n == 0) break;
        left -= n;
    }
    return {};
}

ErrorOr<void> copy_entry(int src_dir, int dst_dir, const char* name) {
    struct stat st {};
    if (::fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(std::string("stat ") + name);
    if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(dst_dir, name, st.st_mode & 07777) != 0)
            return fail_errno(std::string("mkdir ") + name);
        UniqueFd src(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd dst(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!src || !dst) return fail_errno(std::string("open ") + name);
        TRY(copy_tree(src.get(), dst.get()));
    } else if (S_ISREG(st.st_mode)) {
        TRY(copy_file_data(src_dir, dst_dir, name, st));
    } else if (S_ISLNK(st.st_mode)) {
        std::array<char, 4096> target{};
        ssize_t n = ::readlinkat(src_dir, name, target.data(), target.size() - 1);
        if (n < 0 || ::symlinkat(target.data(), dst_dir, name) != 0)
            return fail_errno(std::string("symlink ") + name);
    } else if (::mknodat(dst_dir, name, st.st_mode, st.st_rdev) != 0) {
        return fail_errno(std::string("mknod ") + name);
    }
    if (::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(std::string("chown ") + name);
    // mkdirat and openat applied the umask; the copy must have the original mode.
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0)
        return fail_errno(std::string("chmod ") + name);
    return {};
}

ErrorOr<void> copy_tree(int src_dir, int dst_dir) {
    int dup_fd = ::fcntl(src_dir, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return fail_errno("dup");
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup_fd), ::closedir);
    if (!dir) {
        ::close(dup_fd);
        return fail_errno("opendir");
    }
    while (struct dirent* entry = ::readdir(dir.get())) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        TRY(copy_entry(src_dir, dst_dir, entry->d_name));
    }
    return {};
}

// Copies the directory under the new tmpfs into it; the tmpfs is mounted writable for that, and
// made read-only afterwards when asked.
ErrorOr<void> tmpcopyup(int root_fd, const spec::Mount& m, int underlying, const MountOptions& opts) {
    UniqueFd top = TRY(openat_in_root(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
    TRY_CTX(copy_tree(underlying, top.get()), "tmpcopyup");
    if (!(opts.flags & MS_RDONLY)) return {};
    return sys_mount("", fd_path(top.get()), nullptr, MS_REMOUNT | opts.flags, data_or_null(opts.data),
                     "remount ro");
}

// ---- cgroup: the container's own cgroup directories, bound read-only ----
// v1 (and hybrid): a tmpfs holding a bind of each hierarchy; v2: one bind at the mount point.

bool is_cgroup_mount(const spec::Mount& m) { return m.type == "cgroup" || m.type == "cgroup2"; }

// The host's cgroup hierarchies, each shown whole, read before the first container mount: later,
// binds of /sys (the sysfs fallback) would show copies of them inside the rootfs as well.
std::vector<CgroupBind> whole_host_hierarchies(const std::vector<MountInfo>& mounts,
                                               const std::string& rootfs) {
    std::vector<CgroupBind> out;
    for (const auto& mi : mounts) {
        bool inside = mi.mount_point == rootfs || mi.mount_point.starts_with(rootfs + "/");
        if (inside || (mi.fs_type != "cgroup" && mi.fs_type != "cgroup2")) continue;
        if (mi.fs_type == "cgroup2" && mi.mount_point == "/sys/fs/cgroup") return {{"", mi.mount_point}};
        out.push_back({mi.mount_point.substr(mi.mount_point.rfind('/') + 1), mi.mount_point});
    }
    return out;
}

bool binds_at_mount_point(const std::vector<CgroupBind>& binds) {
    return binds.size() == 1 && binds.front().name.empty();
}

// MS_* per-mount flags as MOUNT_ATTR_* bits, for one recursive mount_setattr.
uint64_t mount_attrs_of(unsigned long flags) {
    uint64_t attrs = 0;
    if (flags & MS_RDONLY) attrs |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID) attrs |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV) attrs |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC) attrs |= MOUNT_ATTR_NOEXEC;
    return attrs;
}

// One recursive change makes the tmpfs and every bind in it read-only (nosuid, ...) at once.
ErrorOr<void> set_attrs_recursively(int top, unsigned long flags) {
    struct mount_attr attr {};
    attr.attr_set = mount_attrs_of(flags);
    if (attr.attr_set && ::mount_setattr(top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
        return fail_errno("mount_setattr");
    return {};
}

// What build_cgroup_mounts() can do ahead: the usual per-mount flags, nothing else.
bool can_build_ahead(const MountOptions& opts) {
    constexpr unsigned long kUsual = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
    return (opts.flags & ~kUsual) == 0 && opts.data.empty() && !opts.tmpcopyup;
}

// A detached recursive copy of the mount tree at source.
ErrorOr<UniqueFd> clone_tree(const std::string& source) {
    UniqueFd tree(::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) return fail_errno("open_tree " + source);
    return tree;
}

// Into top, an empty tmpfs (so nothing in it can be a symlink): a directory per hierarchy, with
// a recursive bind of its source on it.
ErrorOr<void> bind_hierarchies(int top, const std::vector<CgroupBind>& binds) {
    for (const auto& bind : binds) {
        if (::mkdirat(top, bind.name.c_str(), 0755) != 0) return fail_errno("mkdir " + bind.name);
        UniqueFd tree = TRY(clone_tree(bind.source));
        // Under a detached top, refused (EINVAL) before Linux 6.15.
        if (::move_mount(tree.get(), "", top, bind.name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return fail_errno("bind " + bind.source + " on " + bind.name);
    }
    return {};
}

// A cgroup mount built ahead, detached: the v2 directory itself, or a tmpfs with a bind of each
// v1 hierarchy; the container's process attaches it whole.
ErrorOr<UniqueFd> build_cgroup_mount(const MountOptions& opts, const std::vector<CgroupBind>& binds) {
    if (binds_at_mount_point(binds)) {
        UniqueFd tree = TRY(clone_tree(binds.front().source));
        TRY(set_attrs_recursively(tree.get(), opts.flags));
        return tree;
    }
    UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
    if (!fs) return fail_errno("fsopen tmpfs");
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", "tmpfs", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", "755", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return fail_errno("create tmpfs");
    UniqueFd top(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
    if (!top) return fail_errno("fsmount tmpfs");
    TRY(bind_hierarchies(top.get(), binds));
    TRY(set_attrs_recursively(top.get(), opts.flags));
    return top;
}

ErrorOr<void> attach(int mount, int target) {
    if (::move_mount(mount, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        return fail_errno("attach the cgroup mount");
    return {};
}

ErrorOr<void> mount_cgroup(int root_fd, const spec::Mount& m, const MountOptions& opts,
                           const std::vector<CgroupBind>& binds, int built) {
    UniqueFd target = TRY(open_in_root(root_fd, m.destination, Create::directory));
    TRY(refuse_procfs_target(target.get(), m.destination));
    // The runtime's mount, attached whole; should this kernel refuse it, the mount is made here.
    if (built >= 0 && attach(built, target.get())) return {};
    if (binds_at_mount_point(binds)) {
        UniqueFd tree = TRY(clone_tree(binds.front().source));
        TRY(attach(tree.get(), target.get()));
    } else {
        unsigned long flags = opts.flags & ~(kBindMechanics | MS_RDONLY);
        TRY(sys_mount("tmpfs", fd_path(target.get()), "tmpfs", flags, "mode=755", "mount tmpfs"));
        UniqueFd top = TRY(open_in_root(root_fd, m.destination, Create::nothing));
        TRY(bind_hierarchies(top.get(), binds));
    }
    UniqueFd top = TRY(open_in_root(root_fd, m.destination, Create::nothing));
    return set_attrs_recursively(top.get(), opts.flags);
}

// ---- everything else: a new filesystem instance ----

ErrorOr<void> mount_filesystem(int root_fd, const spec::Mount& m, const MountOptions& opts) {
    UniqueFd target = TRY(open_in_root(root_fd, m.destination, Create::directory));
    TRY(refuse_procfs_target(target.get(), m.destination));
    UniqueFd underlying;
    if (opts.tmpcopyup) underlying = TRY(openat_in_root(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
    unsigned long flags = opts.tmpcopyup ? opts.flags & ~static_cast<unsigned long>(MS_RDONLY) : opts.flags;
    std::string source = m.source.empty() ? m.type : m.source;
    std::string path = fd_path(target.get());
    if (::mount(source.c_str(), path.c_str(), m.type.c_str(), flags, data_or_null(opts.data)) != 0) {
        std::string host = fallback_source(m.type);
        if (errno != EPERM || host.empty()) return fail_errno("mount " + m.type);
        TRY(sys_mount(host, path, nullptr, MS_BIND | MS_REC, nullptr,
                      "mount " + m.type + " (EPERM), then bind " + host));
        UniqueFd top = TRY(open_in_root(root_fd, m.destination, Create::nothing));
        return remount_bind(top.get(), opts.flags & ~kBindMechanics);
    }
    if (opts.tmpcopyup) TRY(tmpcopyup(root_fd, m, underlying.get(), opts));
    return {};
}

// built: this mount, when it is a cgroup mount that the runtime built ahead, else -1.
ErrorOr<void> mount_one(int root_fd, const spec::Mount& m, const std::vector<CgroupBind>& cgroup_binds,
                        int built) {
    auto opts = TRY(parse_mount_options(m.options));
    if (is_bind_mount(m))
        TRY(mount_bind(root_fd, m, opts));
    else if (is_cgroup_mount(m))
        TRY(mount_cgroup(root_fd, m, opts, cgroup_binds, built));
    else
        TRY(mount_filesystem(root_fd, m, opts));
    return apply_propagation_and_attrs(root_fd, m, opts);
}

// pivot_root refuses a new root whose parent mount is shared, and a bind of an unbindable mount
// fails: make the mount that holds the rootfs private (in our namespace only).
ErrorOr<void> make_rootfs_parent_private(const std::vector<MountInfo>& mounts, const std::string& rootfs) {
    const MountInfo* parent = nullptr;
    for (const auto& mi : mounts) {
        bool holds =
            mi.mount_point == "/" || rootfs == mi.mount_point || rootfs.starts_with(mi.mount_point + "/");
        if (holds && (!parent || mi.mount_point.size() >= parent->mount_point.size())) parent = &mi;
    }
    if (!parent || !(parent->shared || parent->unbindable)) return {};
    return sys_mount("", parent->mount_point, nullptr, MS_PRIVATE, nullptr,
                     "make " + parent->mount_point + " private");
}

bool mounts_dev(const spec::Spec& spec) {
    return std::ranges::any_of(spec.mounts,
                               [](const spec::Mount& m) { return clean_path(m.destination) == "/dev"; });
}

// Three octal digits after a backslash; anything else is kept as it is. Without std::stoi, which
// throws on "\\9..": the container's process reads mountinfo, and must not throw.
std::string unescape_mountinfo(const std::string& field) {
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
            octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') << 6 | (field[i + 2] - '0') << 3 |
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::optional<MountInfo> parse_mountinfo_line(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    auto sep = std::ranges::find(fields, "-");
    size_t sep_index = static_cast<size_t>(sep - fields.begin());
    if (sep == fields.end() || sep_index < 6 || sep_index + 3 > fields.size()) return std::nullopt;
    MountInfo mi;
    mi.root = unescape_mountinfo(fields[3]);
    mi.mount_point = unescape_mountinfo(fields[4]);
    for (size_t i = 6; i < sep_index; ++i) {
        mi.shared = mi.shared || fields[i].starts_with("shared:");
        mi.unbindable = mi.unbindable || fields[i] == "unbindable";
    }
    mi.fs_type = fields[sep_index + 1];
    mi.source = unescape_mountinfo(fields[sep_index + 2]);
    if (sep_index + 3 < fields.size()) mi.super_options = fields[sep_index + 3];
    return mi;
}

}  // namespace

std::vector<UniqueFd> build_cgroup_mounts(const spec::Spec& spec, const std::vector<CgroupBind>& binds) {
    std::vector<UniqueFd> built;
    for (const auto& m : spec.mounts) {
        if (!is_cgroup_mount(m)) continue;
        auto opts = parse_mount_options(m.options);
        if (!opts || !can_build_ahead(*opts)) return {};
        auto mount = build_cgroup_mount(*opts, binds);
        if (!mount) return {};
        built.push_back(std::move(*mount));
    }
    return built;
}

ErrorOr<std::vector<MountInfo>> read_mountinfo(const std::string& path) {
    std::string text = TRY(read_file(path));
    std::vector<MountInfo> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (auto mi = parse_mountinfo_line(line)) out.push_back(std::move(*mi));
    return out;
}

ErrorOr<void> prepare_rootfs(const spec::Spec& spec, const std::string& rootfs,
                             const JoinCgroups& join_cgroups) {
    if (!rootfs.starts_with('/')) return fail("rootfs \"" + rootfs + "\" must be an absolute path");
    std::string propagation_field = spec.linux_ ? spec.linux_->rootfs_propagation : "";
    auto propagation = TRY_CTX(parse_rootfs_propagation(propagation_field), "linux.rootfsPropagation");
    // rslave by default: host mounts still reach us, ours never reach the host.
    unsigned long applied = propagation.value_or(MS_SLAVE | MS_REC);
    TRY(sys_mount("", "/", nullptr, applied, nullptr, "set propagation of /"));
    // After rslave or rprivate no mount is shared or unbindable, and the runtime says what the
    // cgroup mounts bind: only otherwise is the mount table (0.08 ms to read here) needed.
    bool none_shared = (applied & MS_REC) && (applied & (MS_SLAVE | MS_PRIVATE));
    CgroupView cgroups;
    if (!none_shared || !join_cgroups) {
        auto host_mounts = TRY(read_mountinfo());
        TRY(make_rootfs_parent_private(host_mounts, rootfs));
        if (!join_cgroups) cgroups.binds = whole_host_hierarchies(host_mounts, rootfs);
    }
    // A mount point of its own, so that pivot_root can take it and the mounts below stay with it.
    TRY(sys_mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr,
                  "bind rootfs " + rootfs + " onto itself"));
    UniqueFd root_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return fail_errno("open rootfs " + rootfs);
    bool joined = false;
    auto join_once = [&]() -> ErrorOr<void> {
        if (joined || !join_cgroups) return {};
        joined = true;
        cgroups = TRY(join_cgroups());
        return {};
    };
    size_t cgroup_mounts = 0;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const auto& m = spec.mounts[i];
        int built = -1;
        if (is_cgroup_mount(m)) {
            TRY(join_once());
            if (cgroup_mounts < cgroups.built.size()) built = cgroups.built[cgroup_mounts].get();
            ++cgroup_mounts;
        }
        TRY_CTX(mount_one(root_fd.get(), m, cgroups.binds, built),
                "mounts[" + std::to_string(i) + "] (" + m.destination + ")");
    }
    TRY(join_once());
    if (mounts_dev(spec)) TRY_CTX(create_devices(root_fd.get(), spec), "/dev");
    return {};
}

}  // namespace hutch::rootfs
