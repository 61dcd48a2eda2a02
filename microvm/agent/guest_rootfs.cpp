#include "microvm/agent/guest_rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "microvm/agent/protocol.h"

namespace hutch::microvm::agent {

namespace {

constexpr const char* new_root = "/newroot";

ErrorOr<void> make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir " + path);
    return {};
}

ErrorOr<void> mount_fs(const std::string& type, const std::string& target, unsigned long flags,
                       const std::string& data, const std::string& source = "") {
    TRY(make_dir(target));
    const std::string& what = source.empty() ? type : source;
    if (::mount(what.c_str(), target.c_str(), type.c_str(), flags, data.empty() ? nullptr : data.c_str()) !=
        0)
        return fail_errno("mount " + type + " on " + target);
    return {};
}

// A small sysfs file's first line.
std::string read_line(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return {};
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) return {};
    std::string line(buf, static_cast<size_t>(n));
    return line.substr(0, line.find('\n'));
}

// The entries of a sysfs directory whose file `attribute` reads `value`.
std::vector<std::string> entries_with(const std::string& dir, const std::string& attribute,
                                      std::string_view value) {
    std::vector<std::string> found;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return found;
    while (dirent* e = ::readdir(d.get())) {
        std::string name = e->d_name;
        if (name[0] != '.' && read_line(dir + "/" + name + "/" + attribute) == value) found.push_back(name);
    }
    return found;
}

ErrorOr<std::string> find_disk(const std::string& serial) {
    auto disks = entries_with("/sys/block", "serial", serial);
    if (disks.size() != 1) return fail("no single disk with serial " + serial);
    return "/dev/" + disks[0];
}

// The layer disks under /layers/N, and the overlay lowerdir option, top first.
ErrorOr<std::string> mount_layers(unsigned layers) {
    TRY(make_dir("/layers"));
    std::string lowerdir;
    for (unsigned i = 0; i < layers; ++i) {
        std::string disk = TRY(find_disk(std::string(layer_serial_prefix) + std::to_string(i)));
        std::string target = "/layers/" + std::to_string(i);
        TRY(mount_fs("erofs", target, MS_RDONLY | MS_NODEV, "", disk));
        lowerdir = i == 0 ? target : target + ":" + lowerdir;
    }
    return lowerdir;
}

// mkdir -p, for a --tmpfs path that the image lacks (made in the overlay's upper layer).
ErrorOr<void> make_dirs(const std::string& path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1))
        TRY(make_dir(path.substr(0, slash)));
    return make_dir(path);
}

// --tmpfs: the options docker's and hutch's own containers get (spec/container_config.cpp).
ErrorOr<void> mount_tmpfs(const std::string& path) {
    std::string target = new_root + path;
    TRY(make_dirs(target));
    if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        return fail_errno("mount tmpfs on " + path);
    return {};
}

// A host directory (-v, a bind mount), shared by the VMM over virtio-9p with its tag. The
// directory is made in the overlay when the image lacks it. Symlinks on the way resolve inside the
// guest: the VM, not the path, is the boundary.
ErrorOr<void> mount_volume(size_t index, const GuestVolume& volume) {
    std::string target = new_root + volume.path;
    TRY(make_dirs(target));
    std::string tag = std::string(volume_tag_prefix) + std::to_string(index);
    unsigned long flags = MS_NOSUID | MS_NODEV | (volume.readonly ? MS_RDONLY : 0);
    // 9p2000.L for Linux's file semantics; no cache, so that the host's changes show at once.
    if (::mount(tag.c_str(), target.c_str(), "9p", flags, "trans=virtio,version=9p2000.L,msize=262144") != 0)
        return fail_errno("mount the volume " + tag + " on " + volume.path);
    return {};
}

// A file's bind mount, copied in: whatever the image has at its path (a file, or a symlink such
// as Debian's /etc/resolv.conf) is replaced, in the overlay's upper layer.
ErrorOr<void> write_guest_file(const GuestFile& file) {
    std::string target = new_root + file.path;
    TRY(make_dirs(target.substr(0, target.rfind('/'))));
    if (::unlink(target.c_str()) != 0 && errno != ENOENT) return fail_errno("replace " + file.path);
    UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("create " + file.path);
    TRY_CTX(write_all(fd.get(), file.content), "write " + file.path);
    if (::fchmod(fd.get(), file.mode) != 0) return fail_errno("chmod " + file.path);
    return {};
}

}  // namespace

ErrorOr<void> mount_api_filesystems(const std::string& root, bool container) {
    TRY(mount_fs("proc", root + "/proc", api_filesystem_flags, ""));
    TRY(mount_fs("sysfs", root + "/sys", api_filesystem_flags, ""));
    TRY(mount_fs("devtmpfs", root + "/dev", MS_NOSUID, "mode=0755"));
    // The agent makes the container's cgroup in the initramfs's hierarchy, which it can write.
    TRY(mount_fs("cgroup2", root + "/sys/fs/cgroup",
                 container ? container_cgroup_flags : api_filesystem_flags, ""));
    if (!container) return {};
    TRY(mount_fs("devpts", root + "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"));
    TRY(mount_fs("tmpfs", root + "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777"));
    return {};
}

ErrorOr<std::string> find_port(std::string_view name) {
    // The ports are probed before the kernel runs init (the drivers are built in), so they are
    // there or missing for good.
    auto ports = entries_with("/sys/class/virtio-ports", "name", name);
    if (ports.size() != 1) return fail("no single virtio-serial port named " + std::string(name));
    return "/dev/" + ports[0];
}

ErrorOr<void> enter_container_rootfs(const GuestConfig& config) {
    if (config.layers == 0) return fail("the image has no layers");
    std::string lowerdir = TRY(mount_layers(config.layers));
    TRY(mount_fs("tmpfs", "/rw", 0, "mode=0755"));
    TRY(make_dir("/rw/upper"));
    TRY(make_dir("/rw/work"));
    // volatile: the upper layer dies with the VM, so it is never synced.
    TRY(mount_fs("overlay", new_root, 0,
                 "lowerdir=" + lowerdir + ",upperdir=/rw/upper,workdir=/rw/work,volatile", "overlay"));
    TRY(mount_api_filesystems(new_root, true));
    for (const auto& path : config.tmpfs) TRY(mount_tmpfs(path));
    for (size_t i = 0; i < config.volumes.size(); ++i) TRY(mount_volume(i, config.volumes[i]));
    for (const auto& file : config.files) TRY(write_guest_file(file));
    // --read-only as runc does it: the mount points are made first, then the root alone turns
    // read-only; the mounts on it stay writable.
    if (config.readonly_root &&
        ::mount(nullptr, new_root, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
        return fail_errno("remount the root read-only");
    // switch_root's move: the initramfs cannot be unmounted, so the overlay goes over it.
    if (::chdir(new_root) != 0) return fail_errno(std::string("chdir ") + new_root);
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return fail_errno("move the root overlay to /");
    if (::chroot(".") != 0) return fail_errno("chroot into the container's root");
    if (::chdir("/") != 0) return fail_errno("chdir /");
    return {};
}

}  // namespace hutch::microvm::agent
