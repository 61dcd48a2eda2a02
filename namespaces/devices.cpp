// The container's /dev: the devices every container gets, linux.devices, and the usual symlinks.
// Nodes are made with mknodat relative to their parent's fd (resolved inside the rootfs); where
// mknod is not allowed (a user namespace) the host's node is bind-mounted onto an empty file.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>

#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

std::vector<spec::Device> default_devices() {
    auto dev = [](const char* path, int64_t major, int64_t minor) {
        return spec::Device{"c", path, major, minor, 0666, 0, 0};
    };
    return {dev("/dev/null", 1, 3),   dev("/dev/zero", 1, 5),    dev("/dev/full", 1, 7),
            dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0)};
}

// linux.devices after the defaults; an entry for the same path replaces the default one.
std::vector<spec::Device> all_devices(const spec::Spec& spec) {
    std::vector<spec::Device> out = default_devices();
    if (!spec.linux_) return out;
    for (const auto& d : spec.linux_->devices) {
        std::string path = clean_path(d.path);
        std::erase_if(out, [&](const spec::Device& x) { return clean_path(x.path) == path; });
        out.push_back(d);
    }
    return out;
}

mode_t type_bits(const std::string& type) {
    if (type == "b") return S_IFBLK;
    if (type == "p") return S_IFIFO;
    return S_IFCHR;  // "c" and "u" (unbuffered character device)
}

// The parent directory and last component of a device path, as written (resolution is the kernel's).
// The config.json parser made sure the last component is a name (not "", "." or "..").
std::pair<std::string, std::string> split_last(const std::string& path) {
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    size_t slash = trimmed.rfind('/');
    return {slash == 0 ? std::string("/") : trimmed.substr(0, slash), trimmed.substr(slash + 1)};
}

// In a user namespace mknod is refused: an empty file with the host's node bound onto it instead.
ErrorOr<void> bind_host_node(int parent_fd, const std::string& name, const spec::Device& d) {
    UniqueFd created(
        ::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!created && errno != EEXIST) return fail_errno("create " + d.path);
    UniqueFd target(::openat(parent_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!target) return fail_errno("open " + d.path);
    struct stat st {};
    if (::fstat(target.get(), &st) != 0) return fail_errno("stat " + d.path);
    // Never mount onto a symlink someone left in the rootfs.
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return fail(d.path + ": exists and is not a file to bind the host's node onto");
    std::string target_path = fd_path(target.get());
    if (::mount(d.path.c_str(), target_path.c_str(), nullptr, MS_BIND, nullptr) != 0)
        return fail_errno("bind host " + d.path);
    return {};
}

// The directories devices go in (all of them in /dev, usually), each resolved once, with who
// owns what is created there: this process, or the directory's group when it is set-group-ID.
class DeviceDirs {
public:
    explicit DeviceDirs(int root_fd) : root_fd_(root_fd) {}

    struct Dir {
        UniqueFd fd;
        gid_t new_gid;
    };

    ErrorOr<const Dir*> get(const std::string& path) {
        auto found = dirs_.find(path);
        if (found != dirs_.end()) return &found->second;
        UniqueFd fd = TRY(open_in_root(root_fd_, path, Create::directory));
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + path);
        gid_t gid = (st.st_mode & S_ISGID) ? st.st_gid : ::getegid();
        return &dirs_.emplace(path, Dir{std::move(fd), gid}).first->second;
    }

private:
    int root_fd_;
    std::map<std::string, Dir> dirs_;
};

// Called with the umask cleared, so the node gets its mode as asked, without a chmod.
ErrorOr<void> create_device(DeviceDirs& dirs, const spec::Device& d) {
    auto [parent_path, name] = split_last(d.path);
    const DeviceDirs::Dir* parent = TRY(dirs.get(parent_path));
    mode_t perms = d.file_mode.value_or(0666) & 07777;
    dev_t number = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    if (::mknodat(parent->fd.get(), name.c_str(), perms | type_bits(d.type), number) != 0) {
        if (errno == EEXIST) return {};  // the image or an earlier mount provides it (runc keeps it too)
        if (errno == EPERM) return bind_host_node(parent->fd.get(), name, d);
        return fail_errno("mknod " + d.path);
    }
    uid_t uid = d.uid.value_or(0);
    gid_t gid = d.gid.value_or(0);
    if ((uid != ::geteuid() || gid != parent->new_gid) &&
        ::fchownat(parent->fd.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno("chown " + d.path);
    return {};
}

// Clears the umask for as long as it lives.
class NoUmask {
public:
    NoUmask() : saved_(::umask(0)) {}
    ~NoUmask() { ::umask(saved_); }
    NoUmask(const NoUmask&) = delete;
    NoUmask& operator=(const NoUmask&) = delete;

private:
    mode_t saved_;
};

ErrorOr<void> create_symlink(int dev_fd, const char* name, const char* target) {
    if (::symlinkat(target, dev_fd, name) != 0 && errno != EEXIST)
        return fail_errno(std::string("symlink /dev/") + name + " -> " + target);
    return {};
}

ErrorOr<void> create_symlinks(int root_fd, const spec::Spec& spec) {
    UniqueFd dev = TRY(open_in_root(root_fd, "/dev", Create::nothing));
    TRY(create_symlink(dev.get(), "fd", "/proc/self/fd"));
    TRY(create_symlink(dev.get(), "stdin", "/proc/self/fd/0"));
    TRY(create_symlink(dev.get(), "stdout", "/proc/self/fd/1"));
    TRY(create_symlink(dev.get(), "stderr", "/proc/self/fd/2"));
    // Still the host's /proc here: link core only where the kernel has one to show.
    if (::access("/proc/kcore", F_OK) == 0) TRY(create_symlink(dev.get(), "core", "/proc/kcore"));
    bool has_pts = std::ranges::any_of(
        spec.mounts, [](const spec::Mount& m) { return clean_path(m.destination) == "/dev/pts"; });
    if (!has_pts) return {};
    // The devpts instance's own ptmx, so that every pty the container opens is its own.
    if (::unlinkat(dev.get(), "ptmx", 0) != 0 && errno != ENOENT) return fail_errno("remove /dev/ptmx");
    return create_symlink(dev.get(), "ptmx", "pts/ptmx");
}

}  // namespace

ErrorOr<void> create_devices(int root_fd, const spec::Spec& spec) {
    {
        NoUmask no_umask;
        DeviceDirs dirs(root_fd);
        for (const auto& d : all_devices(spec)) TRY_CTX(create_device(dirs, d), d.path);
    }
    return create_symlinks(root_fd, spec);
}

}  // namespace hutch::rootfs
