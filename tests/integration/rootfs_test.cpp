// The rootfs set-up on the real kernel: each test forks a child that unshares its own mount
// namespace, builds a container root from a copy of the busybox rootfs, enters it and checks what
// it sees from inside. The test process never changes its own mount namespace; afterwards it checks
// that nothing was mounted or created on the host.
#include "namespaces/rootfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "base/file.h"
#include "harness.h"

using namespace hutch;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// Returns from the enclosing child body with a message when a check fails.
#define EXPECT(cond, msg) \
    if (!(cond)) return std::string(msg) + " (" #cond ")"
#define MUST(expr)                                                          \
    do {                                                                    \
        auto _must = (expr);                                                \
        if (!_must) return std::string(#expr ": ") + _must.error().message; \
    } while (0)

// Runs body in a forked child with a mount namespace (plus extra_flags) of its own. The child
// makes "/" rslave first so that nothing it does can reach the host even if the code under test
// fails early. Returns "" on success, else the child's message.
std::string in_child(int extra_flags, const std::function<std::string()>& body) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        std::string msg;
        if (unshare(CLONE_NEWNS | extra_flags) != 0)
            msg = std::string("unshare: ") + strerror(errno);
        else if (mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
            msg = std::string("rslave: ") + strerror(errno);
        else {
            try {
                msg = body();
            } catch (const std::exception& e) {
                msg = std::string("exception: ") + e.what();
            }
        }
        (void)!write(fds[1], msg.data(), msg.size());
        _exit(msg.empty() ? 0 : 1);
    }
    close(fds[1]);
    std::string msg;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (msg.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        msg = "child ended with status " + std::to_string(status);
    return msg;
}

// A writable copy of the busybox rootfs, removed with its bundle directory.
struct TestRootfs {
    TempDir bundle{"hutch-rootfs-test"};
    std::string path = bundle.path() + "/rootfs";
    TestRootfs() {
        auto r = test::run_command({"cp", "-a", test::busybox_rootfs(), path});
        if (r.status != 0) throw std::runtime_error("cp failed: " + r.err);
    }
};

spec::Mount mnt(std::string dest, std::string type, std::string source, std::vector<std::string> options) {
    return {std::move(dest), std::move(type), std::move(source), std::move(options)};
}

// Read before any test changes its mount namespace: what the cgroup mount shows depends on it.
const bool host_is_v2 = [] {
    struct statfs fs {};
    return ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}();

std::vector<spec::Mount> runc_default_mounts() {
    return {mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
            mnt("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
            mnt("/dev/pts", "devpts", "devpts",
                {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
            mnt("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
            mnt("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
            mnt("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
            mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"})};
}

// "per-mount options super-options" of the topmost mount at point, from inside; "" if none.
std::string mount_line(const std::string& point) {
    std::ifstream in("/proc/self/mountinfo");
    std::string found;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, dev, root, mp, opts;
        f >> id >> parent >> dev >> root >> mp >> opts;
        if (mp != point) continue;
        auto dash = line.find(" - ");
        found = opts + " " + (dash == std::string::npos ? "" : line.substr(dash + 3));
    }
    return found;
}

bool has_option(const std::string& line, const std::string& option) {
    std::string opts = line.substr(0, line.find(' '));
    return ("," + opts + ",").find("," + option + ",") != std::string::npos;
}

std::string read_or(const std::string& path, const std::string& fallback = "<unreadable>") {
    return read_file(path).value_or(fallback);
}

int errno_of_create(const std::string& path) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

bool dir_is_empty(const std::string& path) { return fs::is_empty(path); }

// A file in the host's "/" while a test runs: where the old root is still reachable, it shows.
struct HostRootMarker {
    std::string name = "hutch-test-old-root-" + std::to_string(getpid());
    std::string path = "/" + name;
    HostRootMarker() {
        std::ofstream(path) << "host";
        if (!fs::exists(path)) throw std::runtime_error("cannot write " + path);
    }
    ~HostRootMarker() { ::unlink(path.c_str()); }
    HostRootMarker(const HostRootMarker&) = delete;
    HostRootMarker& operator=(const HostRootMarker&) = delete;
};

// Whether path, looked up beneath dir_fd, is the root of a mount: a mount still attached there.
bool is_mount_root_at(int dir_fd, const std::string& path) {
    struct statx stx {};
    if (::statx(dir_fd, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0)
        return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// The host's mount points (relative to "/") that neither hold the rootfs nor lie inside it, and
// that this process sees mounted: /proc, /sys, /dev, ... All must be out of the container's reach.
std::vector<std::string> host_mounts_apart_from(const std::string& rootfs) {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::vector<std::string> out;
    const auto mounts = rootfs::read_mountinfo().value();
    for (const auto& mi : mounts) {
        const std::string& p = mi.mount_point;
        if (p == "/" || p == rootfs || p.starts_with(rootfs + "/") || rootfs.starts_with(p + "/")) continue;
        if (is_mount_root_at(root.get(), p.substr(1))) out.push_back(p.substr(1));
    }
    return out;
}

// In the child, once in its root: nothing of the host's is left to it. old_root is a handle on the
// host's "/" taken before the switch, as an fd leaked into the container would be: it must still
// reach the host's files (else the check below proves nothing), but none of the host's mounts.
std::string check_host_out_of_reach(int old_root, const HostRootMarker& marker,
                                    const std::vector<std::string>& host_mounts) {
    EXPECT(access(marker.path.c_str(), F_OK) != 0, "the host's / is visible in the container");
    EXPECT(faccessat(old_root, marker.name.c_str(), F_OK, 0) == 0, "the handle lost the host's files");
    for (const auto& p : host_mounts)
        EXPECT(!is_mount_root_at(old_root, p), "the host's /" + p + " is reachable");
    return "";
}

}  // namespace

TEST_CASE("a runc-like rootfs: mounts, devices, masked and read-only paths", "[rootfs]") {
    TestRootfs root;
    TempDir data("hutch-rootfs-data");
    std::ofstream(data.path() + "/hello") << "hello";
    std::ofstream(data.path() + "/file.conf") << "conf";
    std::ofstream(root.path + "/root/.profile") << "profile";
    // Two masked directories: the first gets a new tmpfs, the second a bind of it.
    for (const char* dir : {"/srv/masked", "/srv/masked2"}) {
        fs::create_directories(root.path + dir);
        std::ofstream(root.path + dir + "/secret") << "secret";
    }
    std::ofstream(root.path + "/srv/secret.txt") << "secret";

    spec::Spec s;
    s.mounts = runc_default_mounts();
    s.mounts.push_back(mnt("/data", "bind", data.path(), {"rbind", "ro", "nosuid"}));
    s.mounts.push_back(mnt("/etc/bound.conf", "", data.path() + "/file.conf", {"bind"}));
    s.mounts.push_back(mnt("/root", "tmpfs", "tmpfs", {"tmpcopyup", "mode=700"}));
    s.linux_.emplace();
    s.linux_->devices.push_back({"c", "/dev/fuse", 10, 229, 0600, 1, 2});
    s.linux_->masked_paths = {"/proc/kcore", "/srv/masked", "/srv/secret.txt", "/does/not/exist",
                              "/srv/masked2"};
    s.linux_->readonly_paths = {"/proc/sys", "/etc", "/does/not/exist"};
    REQUIRE(rootfs::validate(s));
    HostRootMarker marker;
    auto host_mounts = host_mounts_apart_from(root.path);
    REQUIRE_FALSE(host_mounts.empty());  // /proc at least: else the old-root check proves nothing

    std::string result = in_child(0, [&]() -> std::string {
        UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        MUST(rootfs::prepare_rootfs(s, root.path));
        MUST(rootfs::enter_rootfs(root.path, false));
        MUST(rootfs::finalize_rootfs(s));
        // The old root is gone: detached, with every mount of the host's on it.
        if (auto gone = check_host_out_of_reach(old_root.get(), marker, host_mounts); !gone.empty())
            return "after pivot_root: " + gone;
        std::string proc = mount_line("/proc");
        EXPECT(has_option(proc, "nosuid") && has_option(proc, "nodev") && has_option(proc, "noexec"),
               "/proc flags: " + proc);
        std::string sys = mount_line("/sys");
        EXPECT(has_option(sys, "ro"), "/sys flags: " + sys);
        EXPECT(mount_line("/dev/pts").find(" devpts ") != std::string::npos, "/dev/pts not devpts");
        EXPECT(mount_line("/dev/mqueue").find(" mqueue ") != std::string::npos, "/dev/mqueue not mqueue");
        if (host_is_v2) {  // the one hierarchy, bound read-only at the mount point
            std::string unified = mount_line("/sys/fs/cgroup");
            EXPECT(has_option(unified, "ro") && unified.find(" cgroup2 ") != std::string::npos,
                   "cgroup2: " + unified);
        } else {
            std::string memory = mount_line("/sys/fs/cgroup/memory");
            EXPECT(has_option(memory, "ro") && memory.find(" cgroup ") != std::string::npos,
                   "cgroup memory: " + memory);
            EXPECT(has_option(mount_line("/sys/fs/cgroup"), "ro"), "cgroup tmpfs not ro");
        }
        // Devices and symlinks.
        struct stat st {};
        EXPECT(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
                   minor(st.st_rdev) == 3,
               "/dev/null");
        EXPECT((st.st_mode & 07777) == 0666, "/dev/null mode");
        EXPECT(stat("/dev/fuse", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600 &&
                   st.st_uid == 1 && st.st_gid == 2,
               "/dev/fuse");
        EXPECT(fs::read_symlink("/dev/ptmx") == "pts/ptmx", "/dev/ptmx");
        EXPECT(fs::read_symlink("/dev/fd") == "/proc/self/fd", "/dev/fd");
        EXPECT(fs::read_symlink("/dev/stderr") == "/proc/self/fd/2", "/dev/stderr");
        // Bind mounts, with the flags of a second (remount) call.
        EXPECT(read_or("/data/hello") == "hello", "bind content");
        std::string data_line = mount_line("/data");
        EXPECT(has_option(data_line, "ro") && has_option(data_line, "nosuid"), "/data flags: " + data_line);
        EXPECT(errno_of_create("/data/new") == EROFS, "/data writable");
        EXPECT(read_or("/etc/bound.conf") == "conf", "file bind");
        // tmpcopyup kept the directory's content in the new tmpfs.
        EXPECT(mount_line("/root").find(" tmpfs ") != std::string::npos, "/root not tmpfs");
        EXPECT(read_or("/root/.profile") == "profile", "tmpcopyup content");
        // Masked and read-only paths.
        if (access("/proc/kcore", F_OK) == 0) EXPECT(read_or("/proc/kcore") == "", "/proc/kcore not masked");
        EXPECT(read_or("/srv/secret.txt") == "", "masked file readable");
        for (std::string dir : {"/srv/masked", "/srv/masked2"}) {
            EXPECT(access((dir + "/secret").c_str(), F_OK) != 0, dir + ": masked dir content visible");
            EXPECT(errno_of_create(dir + "/x") == EROFS, dir + ": masked dir writable");
            EXPECT(mount_line(dir).find(" tmpfs ") != std::string::npos, dir + ": not a tmpfs");
        }
        EXPECT(errno_of_create("/etc/new") == EROFS, "readonly /etc writable");
        int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        EXPECT(fd < 0 && errno == EROFS, "/proc/sys writable");
        EXPECT(errno_of_create("/tmp/ok") == 0, "rootfs not writable");
        return "";
    });
    CHECK(result == "");
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}

TEST_CASE("a read-only root entered without pivot_root", "[rootfs]") {
    TestRootfs root;
    spec::Spec s;
    s.root.readonly = true;
    s.mounts = {mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
                mnt("/tmp", "tmpfs", "tmpfs", {"nodev"})};
    s.linux_.emplace();
    s.linux_->rootfs_propagation = "rprivate";
    HostRootMarker marker;
    auto host_mounts = host_mounts_apart_from(root.path);
    REQUIRE_FALSE(host_mounts.empty());  // /proc at least: else the check proves nothing
    std::string result = in_child(0, [&]() -> std::string {
        UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        MUST(rootfs::prepare_rootfs(s, root.path));
        MUST(rootfs::enter_rootfs(root.path, true));
        MUST(rootfs::finalize_rootfs(s));
        // The host's root stays below the rootfs moved onto it, but what the host mounted on it
        // was detached: not reachable even through a handle on it.
        if (auto gone = check_host_out_of_reach(old_root.get(), marker, host_mounts); !gone.empty())
            return "after chroot: " + gone;
        EXPECT(has_option(mount_line("/"), "ro"), "/ not ro: " + mount_line("/"));
        EXPECT(errno_of_create("/etc/x") == EROFS, "root writable");
        EXPECT(errno_of_create("/tmp/x") == 0, "tmpfs on a read-only root not writable");
        return "";
    });
    CHECK(result == "");
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}

TEST_CASE("hostile symlinks and destinations stay inside the rootfs", "[rootfs]") {
    TestRootfs root;
    TempDir outside("hutch-rootfs-outside");
    TempDir source("hutch-rootfs-source");
    std::string etc_name = "hutch-test-" + std::to_string(getpid());
    fs::create_symlink(outside.path(), root.path + "/evil");  // dangling inside the rootfs
    fs::create_symlink("/etc", root.path + "/evil2");         // to the rootfs's own /etc
    fs::create_symlink("../../../../../../..", root.path + "/up");

    spec::Spec s;
    s.mounts = {mnt("/proc", "proc", "proc", {}),
                mnt("/dev", "tmpfs", "tmpfs", {"mode=755"}),
                mnt("/evil/x", "tmpfs", "tmpfs", {}),
                mnt("/evil2/" + etc_name, "bind", source.path(), {"rbind"}),
                mnt("/../../.." + outside.path() + "/z", "tmpfs", "tmpfs", {}),
                mnt("/up" + outside.path() + "/w", "tmpfs", "tmpfs", {})};
    s.linux_.emplace();
    s.linux_->devices.push_back({"c", "/evil/null", 1, 3, 0666, 0, 0});
    s.linux_->masked_paths = {"/evil/x"};
    s.linux_->readonly_paths = {"/evil2"};
    std::string result = in_child(0, [&]() -> std::string {
        MUST(rootfs::prepare_rootfs(s, root.path));
        MUST(rootfs::enter_rootfs(root.path, false));
        MUST(rootfs::finalize_rootfs(s));
        EXPECT(mount_line(outside.path() + "/x").find(" tmpfs ") != std::string::npos,
               "contained mount missing");
        EXPECT(mount_line("/etc/" + etc_name) != "", "contained bind missing");
        EXPECT(has_option(mount_line("/etc"), "ro"), "readonly path through a symlink not ro");
        struct stat st {};
        EXPECT(stat((outside.path() + "/null").c_str(), &st) == 0 && S_ISCHR(st.st_mode),
               "contained device missing");
        return "";
    });
    CHECK(result == "");
    // Everything landed inside the rootfs, nothing on the host.
    CHECK(dir_is_empty(outside.path()));
    CHECK_FALSE(fs::exists("/etc/" + etc_name));
    CHECK(fs::is_directory(root.path + outside.path() + "/x"));
    CHECK(fs::is_directory(root.path + outside.path() + "/z"));
    CHECK(fs::is_directory(root.path + outside.path() + "/w"));
    CHECK(fs::exists(root.path + "/etc/" + etc_name));
    CHECK(test::host_mounts_matching(outside.path()).empty());
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}

TEST_CASE("magic links and procfs destinations are refused", "[rootfs]") {
    TestRootfs root;
    TempDir outside("hutch-rootfs-outside");
    fs::create_symlink("/proc/self/root" + outside.path(), root.path + "/magic");
    spec::Spec s;
    s.mounts = {mnt("/proc", "proc", "proc", {}), mnt("/magic/x", "tmpfs", "tmpfs", {})};
    std::string result = in_child(0, [&]() -> std::string {
        auto r = rootfs::prepare_rootfs(s, root.path);
        EXPECT(!r, "mount through a magic link succeeded");
        return r.error().message;
    });
    CHECK_THAT(result, Catch::StartsWith("mounts[1] (/magic/x)"));
    CHECK(dir_is_empty(outside.path()));

    s.mounts = {mnt("/proc", "proc", "proc", {}), mnt("/proc/sys/kernel", "tmpfs", "tmpfs", {})};
    result = in_child(0, [&]() -> std::string {
        auto r = rootfs::prepare_rootfs(s, root.path);
        EXPECT(!r, "mount over procfs succeeded");
        return r.error().message;
    });
    CHECK_THAT(result, Catch::Contains("lies on procfs"));
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}

TEST_CASE("sysctls are written in the container's namespaces", "[rootfs]") {
    TestRootfs root;
    spec::Spec s;
    s.mounts = {mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"})};
    std::string result = in_child(CLONE_NEWNET, [&]() -> std::string {
        MUST(rootfs::prepare_rootfs(s, root.path));
        MUST(rootfs::enter_rootfs(root.path, false));
        MUST(rootfs::apply_sysctls({{"net.ipv4.ip_forward", "1"}, {"net/ipv4/tcp_syncookies", "0"}}));
        EXPECT(read_or("/proc/sys/net/ipv4/ip_forward") == "1\n", "ip_forward not set");
        EXPECT(read_or("/proc/sys/net/ipv4/tcp_syncookies") == "0\n", "tcp_syncookies not set");
        auto bad = rootfs::apply_sysctls({{"net.ipv4.no_such_key", "1"}});
        EXPECT(!bad, "unknown key accepted");
        return bad.error().message;
    });
    CHECK_THAT(result, Catch::StartsWith(
                           "linux.sysctl.net.ipv4.no_such_key: write /proc/sys/net/ipv4/no_such_key: "));
}

TEST_CASE("in a user namespace: host device nodes and /sys are bound, locked flags kept", "[rootfs]") {
    TestRootfs root;
    spec::Spec s;
    s.root.readonly = true;
    s.mounts = {mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
                mnt("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
                mnt("/dev/pts", "devpts", "devpts",
                    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
                mnt("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
                mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"})};
    s.linux_.emplace();
    s.linux_->masked_paths = {"/proc/kcore"};
    s.linux_->readonly_paths = {"/proc/sys"};
    std::string result = in_child(CLONE_NEWUSER, [&]() -> std::string {
        // Root of the new user namespace is mapped to root: the only mapping a process may write
        // for itself. mknod stays refused there, which is what this test is about.
        MUST(write_existing_file("/proc/self/setgroups", "deny"));
        MUST(write_existing_file("/proc/self/uid_map", "0 0 1"));
        MUST(write_existing_file("/proc/self/gid_map", "0 0 1"));
        // proc can only be mounted by a pid namespace's own user namespace: one more fork.
        if (unshare(CLONE_NEWPID) != 0) return std::string("unshare pid: ") + strerror(errno);
        return in_child(0, [&]() -> std::string {
            MUST(rootfs::prepare_rootfs(s, root.path));
            MUST(rootfs::enter_rootfs(root.path, false));
            MUST(rootfs::finalize_rootfs(s));
            struct stat st {};
            EXPECT(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
                       minor(st.st_rdev) == 3,
                   "/dev/null");
            EXPECT(mount_line("/dev/null") != "", "/dev/null is not a bind of the host's node");
            EXPECT(has_option(mount_line("/sys"), "ro"), "/sys not ro: " + mount_line("/sys"));
            EXPECT(access("/sys/kernel", F_OK) == 0, "/sys empty");
            std::string cgroup = mount_line(host_is_v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu");
            EXPECT(has_option(cgroup, "ro"), "cgroup: " + cgroup);
            EXPECT(read_or("/proc/kcore", "") == "", "/proc/kcore not masked");
            EXPECT(errno_of_create("/etc/x") == EROFS, "root writable");
            int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
            EXPECT(fd < 0 && errno == EROFS, "/proc/sys writable");
            return "";
        });
    });
    CHECK(result == "");
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}

// Where fsconfig refuses an option that mount(2) takes, the mount is made with mount(2) (in a
// staging tmpfs of the runtime's own) and still attached on the pinned destination: here
// overlayfs, whose mount(2) options may escape a comma in a path.
TEST_CASE("an option that fsconfig refuses is given to mount(2): overlayfs with an escaped comma",
          "[rootfs]") {
    TestRootfs root;
    TempDir layers("hutch-rootfs-overlay");
    for (const char* dir : {"/low,er", "/upper", "/work"}) fs::create_directories(layers.path() + dir);
    std::ofstream(layers.path() + "/low,er/hello") << "hello";
    spec::Spec s;
    s.mounts = {mnt("/proc", "proc", "proc", {}),
                mnt("/merged", "overlay", "overlay",
                    {"lowerdir=" + layers.path() + "/low\\,er", "upperdir=" + layers.path() + "/upper",
                     "workdir=" + layers.path() + "/work", "nodev"})};
    std::string result = in_child(0, [&]() -> std::string {
        MUST(rootfs::prepare_rootfs(s, root.path));
        MUST(rootfs::enter_rootfs(root.path, false));
        std::string line = mount_line("/merged");
        EXPECT(line.find(" overlay ") != std::string::npos && has_option(line, "nodev"), "/merged: " + line);
        std::ifstream in("/proc/self/mountinfo");
        int at_merged = 0;
        for (std::string l; std::getline(in, l);) at_merged += l.find(" /merged ") != std::string::npos;
        EXPECT(at_merged == 1, "the staging tmpfs is left at /merged");
        EXPECT(read_or("/merged/hello") == "hello", "lower layer not shown");
        EXPECT(errno_of_create("/merged/new") == 0, "overlay not writable");
        return "";
    });
    CHECK(result == "");
    CHECK(fs::exists(layers.path() + "/upper/new"));
    CHECK(test::host_mounts_matching(root.bundle.path()).empty());
}
