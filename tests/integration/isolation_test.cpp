// What a process inside a container sees: its own namespaces, mounts with their flags, masked and
// read-only paths, capabilities, id maps, rlimits, sysctls, hostname, seccomp, cgroup limits.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

using namespace hutch::test;

namespace {

std::string host_link(const std::string& path) { return std::filesystem::read_symlink(path).string(); }

// A pure cgroup v2 host (the VM test bed): one hierarchy, at /sys/fs/cgroup inside as outside.
bool host_is_v2() { return shell("stat -fc %T /sys/fs/cgroup").out == "cgroup2fs\n"; }

// The directory of a controller inside the container: the mount itself on v2, a bind per
// hierarchy on v1, named as the host names it ("cpu,cpuacct" or "cpu").
std::string inside(const std::string& controller) {
    if (host_is_v2()) return "/sys/fs/cgroup";
    return "$(ls -d /sys/fs/cgroup/" + controller + " /sys/fs/cgroup/" + controller +
           ",* 2>/dev/null | head -1)";
}

}  // namespace

TEST_CASE("every namespace of the default spec differs from the host's", "[isolation]") {
    Bundle bundle;
    auto r = run_script(bundle, "for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done");
    REQUIRE(r.status == 0);
    for (std::string ns : {"pid", "net", "ipc", "uts", "mnt", "cgroup"}) {
        INFO(ns);
        CHECK(r.out.find(host_link("/proc/self/ns/" + ns)) == std::string::npos);
        CHECK(r.out.find(ns + ":[") != std::string::npos);
    }
}

TEST_CASE("each container gets a network namespace of its own, and its sysfs shows it", "[isolation]") {
    // The container's process unshares the namespace itself, before it mounts /sys: a sysfs
    // mounted before would show the host's interfaces.
    Runtime rt;
    Bundle bundle;
    bundle.set_args({"sh", "-c", "ls /sys/class/net; readlink /proc/self/ns/net; sleep 1000"});
    bundle.save();
    std::string first = unique_id(), second = unique_id();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), first}).status == 0);
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), second}).status == 0);
    auto netns_of = [&](const std::string& id) {
        return host_link("/proc/" + std::to_string(rt.state(id)["pid"].get<int>()) + "/ns/net");
    };
    std::string a = netns_of(first), b = netns_of(second);
    CHECK(a != b);
    CHECK(a != host_link("/proc/self/ns/net"));
    CHECK(b != host_link("/proc/self/ns/net"));
    REQUIRE(rt({"delete", "--force", first}).status == 0);
    REQUIRE(rt({"delete", "--force", second}).status == 0);

    auto r = run_script(bundle, "ls /sys/class/net; readlink /proc/self/ns/net");
    REQUIRE(r.status == 0);
    CHECK(r.out.starts_with("lo\nnet:["));
    CHECK(r.out.find(host_link("/proc/self/ns/net")) == std::string::npos);
}

TEST_CASE("the container's process may run on every CPU its runtime may", "[isolation]") {
    // hutch moves the new process off its own CPU while it sets up; it must get the whole mask back.
    std::ifstream status("/proc/self/status");
    std::string line, ours;
    while (std::getline(status, line))
        if (line.starts_with("Cpus_allowed_list:")) ours = line;
    REQUIRE_FALSE(ours.empty());
    Bundle bundle;
    auto r = run_script(bundle, "grep Cpus_allowed_list: /proc/self/status");
    REQUIRE(r.status == 0);
    CHECK(r.out == ours + "\n");
}

TEST_CASE("user and time namespaces: ids are mapped as configured", "[isolation]") {
    Bundle bundle;
    auto& ns = bundle.config["linux"]["namespaces"];
    ns.push_back({{"type", "user"}});
    ns.push_back({{"type", "time"}});
    bundle.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    bundle.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
    // With CAP_NET_ADMIN in its user namespace, root in the container can bring lo up only if its
    // network namespace (unshared by the container's process) belongs to that user namespace.
    for (const char* set : {"bounding", "effective", "permitted"})
        bundle.config["process"]["capabilities"][set].push_back("CAP_NET_ADMIN");
    auto r = run_script(bundle,
                        "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user; "
                        "readlink /proc/self/ns/time; ip link set lo up && echo lo-up || echo lo-refused");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("0     100000      65536") != std::string::npos);
    CHECK(r.out.find("0     200000      65536") != std::string::npos);
    CHECK(r.out.find("\n0\n") != std::string::npos);
    CHECK(r.out.find(host_link("/proc/self/ns/user")) == std::string::npos);
    CHECK(r.out.find(host_link("/proc/self/ns/time")) == std::string::npos);
    CHECK(r.out.find("lo-up") != std::string::npos);
}

TEST_CASE("a namespace given by path is joined", "[isolation]") {
    std::string name = unique_id("hutch-test-ns");
    REQUIRE(shell("ip netns add " + name).status == 0);
    struct NetnsGuard {
        std::string name;
        ~NetnsGuard() { shell("ip netns del " + name); }
    } guard{name};
    struct stat st;
    REQUIRE(::stat(("/run/netns/" + name).c_str(), &st) == 0);
    Bundle bundle;
    for (auto& ns : bundle.config["linux"]["namespaces"])
        if (ns["type"] == "network") ns["path"] = "/run/netns/" + name;
    auto r = run_script(bundle, "readlink /proc/self/ns/net");
    REQUIRE(r.status == 0);
    CHECK(r.out == "net:[" + std::to_string(st.st_ino) + "]\n");
}

TEST_CASE("pid 1 is the container's process; the hostname is the config's", "[isolation]") {
    Bundle bundle;
    bundle.config["hostname"] = "box";
    bundle.config["domainname"] = "example.org";
    // ps sees the container's processes only, under its header: pid 1 (the shell, or ps itself
    // when the shell execs its last command), and ps if the shell forked it.
    auto r = run_script(bundle, "echo $$; hostname; cat /proc/sys/kernel/domainname; ps -o pid,args");
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK(r.out.rfind("1\nbox\nexample.org\n", 0) == 0);
    std::istringstream lines(r.out.substr(std::string("1\nbox\nexample.org\n").size()));
    std::vector<std::string> ps;
    for (std::string line; std::getline(lines, line);) ps.push_back(line);
    REQUIRE((ps.size() == 2 || ps.size() == 3));
    CHECK(ps[0].find("PID") != std::string::npos);
    CHECK(std::stoi(ps[1]) == 1);
    if (ps.size() == 3) CHECK(std::stoi(ps[2]) < 10);
}

TEST_CASE("mounts carry their flags; masked and read-only paths hold", "[isolation]") {
    Bundle bundle;
    auto r =
        run_script(bundle,
                   "grep -E ' / | /dev/shm | /proc | /sys ' /proc/self/mountinfo; "
                   "touch /rootfs-write 2>&1; echo root=$?; "
                   "echo 1 > /proc/sys/kernel/ostype 2>&1; echo sys=$?; "
                   "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; "
                   "test -c /dev/null && test -c /dev/zero && test -c /dev/urandom && echo devices; "
                   "readlink /dev/fd; readlink /dev/ptmx; ls /dev/pts /dev/mqueue >/dev/null && echo dirs; "
                   "grep -E ' /sys/fs/cgroup(/memory)? ' /proc/self/mountinfo; "
                   "mkdir " +
                       inside("memory") + "/sub 2>&1; echo cgroup=$?");
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK(r.out.find(" / ro,") != std::string::npos);        // root.readonly
    CHECK(r.out.find(" / /proc rw,") != std::string::npos);  // the default spec gives /proc no options
    CHECK(r.out.find(" - proc proc ") != std::string::npos);
    CHECK(r.out.find(" /sys ro,nosuid,nodev,noexec") != std::string::npos);
    CHECK(r.out.find("/dev/shm rw,nosuid,nodev,noexec") != std::string::npos);
    CHECK(r.out.find("root=1") != std::string::npos);
    CHECK(r.out.find("sys=1") != std::string::npos);
    CHECK(r.out.find("devices") != std::string::npos);
    CHECK(r.out.find("/proc/self/fd\npts/ptmx\n") != std::string::npos);
    CHECK(r.out.find("dirs") != std::string::npos);
    CHECK(r.out.find("\n0\n0\n") != std::string::npos);  // /proc/timer_list masked, /sys/firmware empty
    // The cgroup mount (built by hutch, attached by the container's process): on v1 a read-only
    // tmpfs holding read-only binds of the container's own cgroups; on v2 a read-only bind of its
    // one cgroup.
    CHECK(r.out.find("/sys/fs/cgroup ro,nosuid,nodev,noexec") != std::string::npos);
    if (!host_is_v2()) CHECK(r.out.find("/sys/fs/cgroup/memory ro,nosuid,nodev,noexec") != std::string::npos);
    CHECK(r.out.find("cgroup=1") != std::string::npos);
}

// The devices are made in /dev before it is made read-only; nothing can be created in it after.
TEST_CASE("a read-only /dev: its devices are there and work, nothing can be written in it", "[isolation]") {
    Bundle bundle;
    for (auto& m : bundle.config["mounts"])
        if (m["destination"] == "/dev") m["options"].push_back("ro");
    auto r =
        run_script(bundle,
                   "grep ' /dev ' /proc/self/mountinfo; "
                   "touch /dev/new 2>/dev/null; echo touch=$?; mkdir /dev/dir 2>/dev/null; echo mkdir=$?; "
                   "echo x > /dev/null && head -c 4 /dev/zero | wc -c && echo devices; "
                   "readlink /dev/fd; ls /dev/pts /dev/shm >/dev/null && echo dirs");
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK(r.out.find(" /dev ro,") != std::string::npos);
    CHECK(r.out.find("touch=1") != std::string::npos);
    CHECK(r.out.find("mkdir=1") != std::string::npos);
    CHECK(r.out.find("4\ndevices") != std::string::npos);
    CHECK(r.out.find("/proc/self/fd\ndirs") != std::string::npos);
}

TEST_CASE("capabilities of root are the config's sets", "[isolation]") {
    Bundle bundle;
    auto r = run_script(bundle, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status");
    REQUIRE(r.status == 0);
    INFO(r.out);
    // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29) from `spec`.
    CHECK(r.out.find("CapBnd:\t0000000020000420") != std::string::npos);
    CHECK(r.out.find("CapEff:\t0000000020000420") != std::string::npos);
    CHECK(r.out.find("CapPrm:\t0000000020000420") != std::string::npos);
    CHECK(r.out.find("CapInh:\t0000000000000000") != std::string::npos);
    CHECK(r.out.find("NoNewPrivs:\t1") != std::string::npos);
}

TEST_CASE("a non-root user keeps only ambient capabilities; groups and rlimits apply", "[isolation]") {
    Bundle bundle;
    bundle.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {44}}};
    bundle.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 123}, {"hard", 456}}};
    auto& caps = bundle.config["process"]["capabilities"];
    caps["inheritable"] = {"CAP_NET_BIND_SERVICE"};
    caps["ambient"] = {"CAP_NET_BIND_SERVICE"};
    auto r = run_script(bundle, "grep -E '^(Cap|Groups)' /proc/self/status; id; ulimit -n; ulimit -Hn");
    REQUIRE(r.status == 0);
    INFO(r.out);
    // exec as a non-root user keeps the ambient set only (CAP_NET_BIND_SERVICE = bit 10).
    CHECK(r.out.find("CapBnd:\t0000000020000420") != std::string::npos);
    CHECK(r.out.find("CapAmb:\t0000000000000400") != std::string::npos);
    CHECK(r.out.find("CapEff:\t0000000000000400") != std::string::npos);
    CHECK(r.out.find("CapPrm:\t0000000000000400") != std::string::npos);
    CHECK(r.out.find("uid=1000 gid=1000") != std::string::npos);
    CHECK(r.out.find("Groups:\t44") != std::string::npos);
    CHECK(r.out.find("\n123\n456\n") != std::string::npos);
}

TEST_CASE("namespaced sysctls are set inside, host's untouched", "[isolation]") {
    Bundle bundle;
    bundle.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
    std::string host_forward = shell("cat /proc/sys/net/ipv4/ip_forward").out;
    auto r = run_script(bundle, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    REQUIRE(r.status == 0);
    CHECK(r.out == "1\n1234\n");
    CHECK(shell("cat /proc/sys/net/ipv4/ip_forward").out == host_forward);
    bundle.config["linux"]["sysctl"] = {{"vm.swappiness", "1"}};
    r = run_script(bundle, "true");
    CHECK(r.status != 0);
    CHECK(r.err.find("vm.swappiness") != std::string::npos);
}

TEST_CASE("seccomp: an errno rule returns its errno, a kill rule kills", "[isolation][seccomp]") {
    Bundle bundle;
    bundle.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64"}},
        {"syscalls",
         {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}},
          {{"names", {"sethostname"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}}};
    auto r = run_script(bundle, "mkdir /tmp/x; echo mkdir=$?");
    CHECK(r.status == 0);
    CHECK(r.err.find("Function not implemented") != std::string::npos);  // ENOSYS = 38
    CHECK(r.out == "mkdir=1\n");
    // sh survives: the child calling sethostname is killed by SIGSYS (31), not refused with EPERM.
    r = run_script(bundle, "hostname other; echo status=$?");
    CHECK(r.status == 0);
    CHECK(r.out == "status=" + std::to_string(128 + 31) + "\n");
    bundle.set_args({"hostname", "other"});
    bundle.save();
    Runtime rt;
    CHECK(rt({"run", "--bundle", bundle.path(), unique_id()}).status == 128 + 31);  // SIGSYS
}

TEST_CASE("cgroup limits are written and enforced", "[isolation][cgroups]") {
    Bundle bundle;
    std::string cgroup = unique_id("hutch-test-cg");
    bundle.config["linux"]["cgroupsPath"] = cgroup;
    bundle.config["linux"]["resources"]["memory"] = {{"limit", 32 * 1024 * 1024}, {"swap", 32 * 1024 * 1024}};
    bundle.config["linux"]["resources"]["pids"] = {{"limit", 20}};
    bundle.config["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};

    SECTION("seen in the cgroup files from inside") {
        std::string memory = host_is_v2() ? "memory.max" : "memory.limit_in_bytes";
        auto r =
            run_script(bundle, "cat " + inside("memory") + "/" + memory + " " + inside("pids") + "/pids.max");
        REQUIRE(r.status == 0);
        CHECK(r.out == "33554432\n20\n");
    }
    SECTION("seen in the cgroup files from the host") {
        // Found by its name under the hierarchy's root, where the container's cgroupsPath put it.
        std::string memory = host_is_v2() ? "memory.max" : "memory.limit_in_bytes";
        std::string swap = host_is_v2() ? "memory.swap.max" : "memory.memsw.limit_in_bytes";
        std::string find = "find /sys/fs/cgroup -maxdepth 5 -type d -name '" + cgroup + "'";
        bundle.set_args({"true"});
        bundle.save();
        Runtime rt;  // created and left waiting for start, its cgroups in place
        std::string id = unique_id();
        REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
        auto dirs = shell(find + " -exec sh -c 'test -e \"$1\"/" + memory + " && echo \"$1\"' _ {} \\;");
        INFO(dirs.out);
        REQUIRE(!dirs.out.empty());
        std::string dir = dirs.out.substr(0, dirs.out.find('\n'));
        CHECK(shell("cat " + dir + "/" + memory).out == "33554432\n");
        if (shell("test -e " + dir + "/" + swap).status == 0)  // swap accounting is on
            CHECK(shell("cat " + dir + "/" + swap).out == (host_is_v2() ? "0\n" : "33554432\n"));
        CHECK(rt({"delete", "--force", id}).status == 0);
    }
    SECTION("a memory hog is OOM-killed") {
        // The hog volunteers as the OOM killer's victim, so that the shell reporting its end is
        // never picked instead.
        auto r =
            run_script(bundle,
                       "(echo 1000 > /proc/self/oom_score_adj; head -c 100m /dev/zero | tail > /dev/null); "
                       "echo status=$?");
        INFO(r.out << r.err);
        CHECK(r.out.find("status=137") != std::string::npos);
    }
    SECTION("a fork bomb stops at pids.max") {
        auto r =
            run_script(bundle, "for i in $(seq 40); do sleep 1000 & done; echo started=$(jobs -p | wc -l)");
        INFO(r.out << r.err);
        CHECK(r.err.find("can't fork") != std::string::npos);
    }
    SECTION("a denied device cannot be opened") {
        // linux.devices are allowed in the device cgroup, as in runc: bind the host's node instead.
        bundle.config["mounts"].push_back(
            {{"destination", "/dev/kmsg"}, {"type", "bind"}, {"source", "/dev/kmsg"}, {"options", {"bind"}}});
        auto r = run_script(bundle,
                            "test -c /dev/kmsg && echo present; head -c1 /dev/kmsg; echo kmsg=$?; head -c1 "
                            "/dev/zero | wc -c");
        INFO(r.out << r.err);
        CHECK(r.out.find("present") != std::string::npos);
        CHECK(r.out.find("kmsg=1") != std::string::npos);
        CHECK(r.err.find("Operation not permitted") != std::string::npos);
        CHECK(r.out.find("\n1\n") != std::string::npos);  // /dev/zero stays allowed
    }
    CHECK(shell("find /sys/fs/cgroup -maxdepth 5 -name '" + cgroup + "'").out.empty());
}

TEST_CASE("a cpu quota throttles a busy loop", "[isolation][cgroups]") {
    Bundle bundle;
    bundle.config["linux"]["resources"]["cpu"] = {{"quota", 10000}, {"period", 100000}};
    // One second of a busy loop under a 10 % quota: the kernel must throttle it, and count it.
    // The uptime and the counters before and after it: the CPU used between them is at most a
    // tenth of the time that passed (however slow the machine), plus a period's quota as slack.
    std::string stat = host_is_v2() ? "/sys/fs/cgroup/cpu.stat" : inside("cpu") + "/cpu.stat";
    std::string sample = "cut -d' ' -f1 /proc/uptime; cat " + stat + "; ";
    auto r = run_script(bundle, sample + "echo --; timeout 1 sh -c 'while :; do :; done'; " + sample);
    INFO(r.out << r.err);
    size_t split = r.out.find("--\n");
    REQUIRE(split != std::string::npos);
    std::string before = r.out.substr(0, split), after = r.out.substr(split + 3);
    auto counter = [](const std::string& text, const std::string& key) -> long long {
        size_t at = text.find(key + " ");
        return at == std::string::npos ? -1 : std::stoll(text.substr(at + key.size() + 1));
    };
    CHECK(counter(after, "nr_throttled") > 0);
    CHECK(counter(after, host_is_v2() ? "throttled_usec" : "throttled_time") > 0);
    if (host_is_v2()) {
        double elapsed_usec = (std::stod(after) - std::stod(before)) * 1e6;
        long long used = counter(after, "usage_usec") - counter(before, "usage_usec");
        CHECK(elapsed_usec >= 1e6);
        CHECK(used < elapsed_usec / 10 + 100000);
    }
}

TEST_CASE("linux.devices get their mode and owner as configured, and can be used", "[isolation]") {
    Bundle bundle;
    // The mode is exactly fileMode (no umask applied); the owner is uid/gid, root when absent.
    bundle.config["linux"]["devices"] = {
        {{"path", "/dev/null-open"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0666}},
        {{"path", "/dev/null-owned"},
         {"type", "c"},
         {"major", 1},
         {"minor", 3},
         {"fileMode", 0620},
         {"uid", 1000},
         {"gid", 2000}}};
    auto r = run_script(bundle,
                        "stat -c '%a %u %g %t:%T' /dev/null-open /dev/null-owned /dev/null; "
                        "echo x > /dev/null-open && echo written");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "666 0 0 1:3\n620 1000 2000 1:3\n666 0 0 1:3\nwritten\n");
}

TEST_CASE("a hostile bundle cannot mount or write outside its rootfs", "[isolation][hostile]") {
    Bundle bundle;
    TempDir outside;
    // rootfs/evil points at a host directory; a mount destination through it must stay inside.
    std::filesystem::create_directory_symlink(outside.path(), bundle.rootfs() + "/evil");
    bundle.config["mounts"].push_back(
        {{"destination", "/evil/tmpfs"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    bundle.config["mounts"].push_back({{"destination", "/../../../../" + outside.path().substr(1) + "/dots"},
                                       {"type", "tmpfs"},
                                       {"source", "tmpfs"}});
    // The container must run, with both mounts where they belong: inside its rootfs, under the
    // path of outside. A container refused before its mounts would leave outside empty too.
    auto r = run_script(bundle, "grep -o ' " + outside.path() + "/[a-z]* ' /proc/self/mountinfo");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == " " + outside.path() + "/tmpfs \n " + outside.path() + "/dots \n");
    CHECK(std::filesystem::is_directory(bundle.rootfs() + outside.path() + "/tmpfs"));
    CHECK(std::filesystem::is_directory(bundle.rootfs() + outside.path() + "/dots"));
    CHECK(std::filesystem::is_empty(outside.path()));
    CHECK(host_mounts_matching(outside.path()).empty());
}

TEST_CASE("a bind remount keeps the source's access-time mode, nodiratime included, unless asked",
          "[isolation]") {
    TempDir source("hutch-test-atime");
    REQUIRE(shell("mount -t tmpfs -o noatime,nodiratime tmpfs " + source.path()).status == 0);
    struct Unmount {
        std::string path;
        ~Unmount() { shell("umount " + path); }
    } unmount{source.path()};
    Bundle bundle;
    auto bind = [&](const std::string& destination, std::vector<std::string> options) {
        bundle.config["mounts"].push_back({{"destination", destination},
                                           {"type", "bind"},
                                           {"source", source.path()},
                                           {"options", options}});
    };
    bind("/kept", {"bind", "ro"});
    bind("/strict", {"bind", "strictatime"});
    bind("/diratime-only", {"bind", "nodiratime"});
    auto r = run_script(bundle,
                        "for d in /kept /strict /diratime-only; do grep \" $d \" /proc/self/mountinfo | cut "
                        "-d' ' -f5,6; done");
    INFO(r.err);
    REQUIRE(r.status == 0);
    // What runc's mount(2) remount gives: no access-time option keeps the source's mode.
    CHECK(r.out == "/kept ro,noatime,nodiratime\n/strict rw\n/diratime-only rw,nodiratime,relatime\n");
}
