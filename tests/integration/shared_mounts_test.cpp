// A container without a mount namespace of its own: config.json lists no "mount" namespace (the
// container shares hutch-oci's) or one with a path (it joins that one). Its mounts are then made
// where others see them; the container still sees only its rootfs, exec lands in the same root,
// and delete takes every mount it made away.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness.h"

using namespace hutch::test;

namespace {

void drop_mount_namespace(Bundle& bundle) {
    auto& namespaces = bundle.config["linux"]["namespaces"];
    namespaces.erase(std::remove_if(namespaces.begin(), namespaces.end(),
                                    [](const auto& ns) { return ns["type"] == "mount"; }),
                     namespaces.end());
}

// A file only the bundle's rootfs has: seen from inside, it proves the root is the rootfs.
void mark_rootfs(const Bundle& bundle) {
    std::ofstream(bundle.rootfs() + "/marker") << "rootfs of the bundle\n";
}

// Lines of a process's mountinfo that mention needle.
std::vector<std::string> mounts_of(pid_t pid, const std::string& needle) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos) lines.push_back(line);
    return lines;
}

// A process of the test's own in a new mount namespace (private, so nothing it gets reaches the
// host), killed and reaped by the destructor: the namespace goes with it.
class MountNamespaceHolder {
public:
    MountNamespaceHolder() {
        int ready[2];
        if (::pipe(ready) != 0) throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::close(ready[0]);
            if (::unshare(CLONE_NEWNS) != 0 ||
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
                _exit(1);
            (void)!::write(ready[1], "1", 1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char c = 0;
        bool ok = ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
        if (!ok) {
            ::waitpid(pid_, nullptr, 0);
            throw std::runtime_error("could not make a mount namespace");
        }
    }
    ~MountNamespaceHolder() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    MountNamespaceHolder(const MountNamespaceHolder&) = delete;
    MountNamespaceHolder& operator=(const MountNamespaceHolder&) = delete;
    pid_t pid() const { return pid_; }
    std::string path() const { return "/proc/" + std::to_string(pid_) + "/ns/mnt"; }

private:
    pid_t pid_ = -1;
};

// A marked rootfs, a process that sleeps, and no mount namespace of its own: none (the
// runtime's is shared), or the one at mount_ns_path.
void sleeper_without_mount_namespace(Bundle& bundle, const std::string& mount_ns_path = "") {
    drop_mount_namespace(bundle);
    if (!mount_ns_path.empty())
        bundle.config["linux"]["namespaces"].push_back({{"type", "mount"}, {"path", mount_ns_path}});
    mark_rootfs(bundle);
    bundle.set_args({"sleep", "1000"});
    bundle.save();
}

// create fails with one line holding `expected`, and leaves no state and no mount behind.
void create_fails_cleanly(const Bundle& bundle, const std::string& expected) {
    Runtime rt;
    std::string id = unique_id();
    auto r = rt({"create", "--bundle", bundle.path(), id});
    INFO(r.err);
    CHECK(r.status != 0);
    CHECK(r.err.find(expected) != std::string::npos);
    CHECK(std::ranges::count(r.err, '\n') == 1);
    CHECK_FALSE(path_exists(rt.root() + "/" + id));
    CHECK(host_mounts_matching(bundle.path()).empty());
}

std::string ns_of(pid_t pid) {
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/mnt");
}

}  // namespace

TEST_CASE("without a mount namespace: the host's is shared, the root is the rootfs, delete unmounts",
          "[shared-mounts]") {
    Bundle bundle;
    sleeper_without_mount_namespace(bundle);
    Runtime rt;
    std::string id = unique_id();
    auto created = rt({"create", "--bundle", bundle.path(), id});
    REQUIRE(created.status == 0);
    REQUIRE(rt({"start", id}).status == 0);
    pid_t pid = rt.state(id)["pid"].get<pid_t>();
    CHECK(ns_of(pid) == ns_of(::getpid()));
    // Its /proc, /dev and the rest are in the host's table, under the rootfs.
    auto host_mounts = host_mounts_matching(bundle.rootfs() + "/");
    CHECK(
        std::ranges::any_of(host_mounts, [](const std::string& l) { return l.find(" - proc ") != l.npos; }));
    // Its first process and an exec'd one see the rootfs as "/", and nothing of the host's.
    auto seen = rt({"exec", id, "sh", "-c",
                    "cat /marker; cat /proc/1/root/marker; test -e " + bundle.path() +
                        " && echo host visible; "
                        "cat /proc/1/cmdline | tr '\\0' ' '"});
    INFO(seen.err);
    CHECK(seen.status == 0);
    CHECK(seen.out == "rootfs of the bundle\nrootfs of the bundle\nsleep 1000 ");
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    CHECK(host_mounts_matching(bundle.path()).empty());
}

TEST_CASE("without a mount namespace: run in the foreground, with masked paths, leaves no mount",
          "[shared-mounts]") {
    Bundle bundle;
    drop_mount_namespace(bundle);
    mark_rootfs(bundle);
    std::filesystem::create_directory(bundle.rootfs() + "/masked-dir");
    std::ofstream(bundle.rootfs() + "/masked-dir/file") << "hidden\n";
    bundle.config["linux"]["maskedPaths"] = {"/marker", "/masked-dir"};
    bundle.save();
    auto r = run_script(bundle, "wc -c </marker; ls /masked-dir | wc -l");
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "0\n0\n");  // a masked file reads as /dev/null, a masked directory is empty
    CHECK(host_mounts_matching(bundle.path()).empty());
}

TEST_CASE("a mount namespace joined by path: the container is in it, its mounts too, and go at delete",
          "[shared-mounts]") {
    MountNamespaceHolder holder;
    Bundle bundle;
    sleeper_without_mount_namespace(bundle, holder.path());
    Runtime rt;
    std::string id = unique_id();
    auto created = rt({"create", "--bundle", bundle.path(), id});
    INFO(created.err);
    REQUIRE(created.status == 0);
    pid_t pid = rt.state(id)["pid"].get<pid_t>();
    CHECK(ns_of(pid) == ns_of(holder.pid()));
    CHECK(host_mounts_matching(bundle.path()).empty());
    CHECK_FALSE(mounts_of(holder.pid(), bundle.rootfs() + "/").empty());
    auto seen = rt({"exec", id, "cat", "/marker"});
    CHECK(seen.out == "rootfs of the bundle\n");
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    CHECK(mounts_of(holder.pid(), bundle.path()).empty());
}

TEST_CASE("without a mount namespace: a user namespace is refused in one line, leaving nothing",
          "[shared-mounts]") {
    Bundle bundle;
    drop_mount_namespace(bundle);
    bundle.config["linux"]["namespaces"].push_back({{"type", "user"}});
    bundle.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    bundle.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    bundle.set_args({"true"});
    bundle.save();
    create_fails_cleanly(bundle, "a user namespace needs a new mount namespace");
}

TEST_CASE("without a mount namespace: a mount that fails fails create, and takes every mount made with it",
          "[shared-mounts]") {
    Bundle bundle;
    sleeper_without_mount_namespace(bundle);
    // After /proc, /dev and the others: a filesystem the kernel does not know.
    bundle.config["mounts"].push_back({{"destination", "/late"}, {"type", "nosuchfs"}, {"source", "none"}});
    bundle.save();
    create_fails_cleanly(bundle, "nosuchfs");
}
