// The cgroup v1 driver's pure parts: /proc parsing, cgroupsPath resolution, device rules.
#include <catch2/catch.hpp>

#include "cgroups/device_rules.h"
#include "cgroups/drivers.h"
#include "cgroups/hierarchies.h"
#include "cgroups/manager.h"
#include "cgroups/placement.h"

using namespace hutch;
using namespace hutch::cgroups;

namespace {

// This host's layout (ENVIRONMENT.md): one v1 controller per hierarchy, name=systemd, and a
// cgroup2 mount that the v1 driver must not take for a hierarchy.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* kProcCgroup =
    "9:name=systemd:/\n"
    "4:memory:/process_api/abc\n"
    "3:cpuset:/\n"
    "1:cpu:/\n"
    "0::/\n";

spec::DeviceRule rule(bool allow, std::string type, std::optional<int64_t> major,
                      std::optional<int64_t> minor, std::string access) {
    return spec::DeviceRule{.allow = allow, .type = type, .major = major, .minor = minor, .access = access};
}

std::vector<std::string> lines_for(const std::vector<DeviceWrite>& writes, const std::string& file) {
    std::vector<std::string> out;
    for (const DeviceWrite& write : writes) {
        if (write.file == file) out.push_back(write.line);
    }
    return out;
}

}  // namespace

TEST_CASE("mountinfo: v1 hierarchies with their controllers, cgroup2 left out", "[cgroups]") {
    auto hierarchies = parse_v1_mountinfo(kHybridMountinfo);
    REQUIRE(hierarchies.size() == 4);
    CHECK(hierarchies[0].mountpoint == "/sys/fs/cgroup/cpu");
    CHECK(hierarchies[0].controllers == std::vector<std::string>{"cpu"});
    CHECK(hierarchies[3].controllers == std::vector<std::string>{"name=systemd"});
    CHECK(hierarchies[3].root == "/");
}

TEST_CASE("mountinfo: co-mounted controllers, optional fields, escapes, bind mounts", "[cgroups]") {
    std::string text =
        "50 31 0:40 / /sys/fs/cgroup/cpu,cpuacct rw shared:20 master:1 - cgroup cgroup rw,cpu,cpuacct\n"
        "51 31 0:40 /a/b /mnt/with\\040space rw - cgroup cgroup rw,cpu,cpuacct\n"
        "52 31 0:41 /sub /mnt/net\\040cls rw - cgroup cgroup rw,net_cls,net_prio\n"
        "53 31 0:42 / /mnt/other rw - cgroup cgroup rw,name=other\n";
    auto hierarchies = parse_v1_mountinfo(text);
    REQUIRE(hierarchies.size() == 2);  // the bind mount is the same hierarchy; name=other is not ours
    CHECK(hierarchies[0].mountpoint == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(hierarchies[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(hierarchies[1].mountpoint == "/mnt/net cls");
    CHECK(hierarchies[1].root == "/sub");
    CHECK(has_controller(hierarchies[1], "net_prio"));
}

TEST_CASE("/proc/self/cgroup: every controller of a line, name=systemd, the v2 line", "[cgroups]") {
    auto own = parse_proc_cgroup("5:cpu,cpuacct:/x\n" + std::string(kProcCgroup));
    CHECK(own.at("cpuacct") == "/x");
    CHECK(own.at("memory") == "/process_api/abc");
    CHECK(own.at("name=systemd") == "/");
    CHECK(own.at("") == "/");
}

TEST_CASE("cgroupsPath: relative paths nest under the caller's own cgroup", "[cgroups]") {
    auto hierarchies = parse_v1_mountinfo(kHybridMountinfo);
    auto own = parse_proc_cgroup(kProcCgroup);
    auto placements = resolve_placements(hierarchies, own, "", "ctr");
    REQUIRE(placements);
    CHECK(find_placement(*placements, "memory")->dir == "/sys/fs/cgroup/memory/process_api/abc/ctr");
    CHECK(find_placement(*placements, "cpu")->dir == "/sys/fs/cgroup/cpu/ctr");
    CHECK(find_placement(*placements, "name=systemd")->dir == "/sys/fs/cgroup/systemd/ctr");
    CHECK(find_placement(*placements, "pids") == nullptr);

    auto nested = resolve_placements(hierarchies, own, "group//./ctr/", "ignored");
    REQUIRE(nested);
    CHECK(find_placement(*nested, "memory")->dir == "/sys/fs/cgroup/memory/process_api/abc/group/ctr");
}

TEST_CASE("cgroupsPath: absolute paths start at each hierarchy's root", "[cgroups]") {
    auto placements = resolve_placements(parse_v1_mountinfo(kHybridMountinfo), parse_proc_cgroup(kProcCgroup),
                                         "/kube/pod1/c", "id");
    REQUIRE(placements);
    CHECK(find_placement(*placements, "memory")->dir == "/sys/fs/cgroup/memory/kube/pod1/c");
}

TEST_CASE("cgroupsPath: a bind-mounted sub-tree takes its root off the caller's cgroup", "[cgroups]") {
    auto hierarchies =
        parse_v1_mountinfo("60 1 0:32 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    auto placements = resolve_placements(hierarchies, parse_proc_cgroup("4:memory:/outer/me\n"), "c", "id");
    REQUIRE(placements);
    CHECK(placements->front().dir == "/sys/fs/cgroup/memory/me/c");
}

TEST_CASE("cgroupsPath: \"..\", systemd's form and control characters are refused", "[cgroups]") {
    auto hierarchies = parse_v1_mountinfo(kHybridMountinfo);
    auto own = parse_proc_cgroup(kProcCgroup);
    for (const char* bad : {"..", "../escape", "a/../../b", "/a/..", "/../x"}) {
        auto placements = resolve_placements(hierarchies, own, bad, "id");
        REQUIRE_FALSE(placements);
        CHECK_THAT(placements.error().message, Catch::Contains("\"..\""));
    }
    auto systemd = resolve_placements(hierarchies, own, "system.slice:hutch:ctr", "id");
    REQUIRE_FALSE(systemd);
    CHECK_THAT(systemd.error().message,
               Catch::Contains("systemd's driver is asked for with --systemd-cgroup"));
    CHECK_FALSE(validate_cgroups_path("a\nb"));
    CHECK(validate_cgroups_path("a..b/..c/d.."));  // only a whole ".." component escapes
    CHECK_FALSE(resolve_placements(hierarchies, own, "/", "id"));
}

TEST_CASE("cgroupsPath: a hierarchy missing from /proc/self/cgroup is an error", "[cgroups]") {
    auto placements =
        resolve_placements(parse_v1_mountinfo(kHybridMountinfo), parse_proc_cgroup("1:cpu:/\n"), "c", "id");
    REQUIRE_FALSE(placements);
    CHECK_THAT(placements.error().message, Catch::Contains("/proc/self/cgroup"));
}

TEST_CASE("device rules: \"type major:minor access\" with * for absent numbers", "[cgroups]") {
    CHECK(format_device_rule(rule(false, "c", 1, 3, "rwm")) == "c 1:3 rwm");
    CHECK(format_device_rule(rule(true, "b", 8, std::nullopt, "r")) == "b 8:* r");
    CHECK(format_device_rule(rule(false, "a", std::nullopt, std::nullopt, "")) == "a *:* rwm");
    CHECK(format_device_rule(rule(true, "c", 136, -1, "rw")) == "c 136:* rw");
}

TEST_CASE("device rules: deny all, the config's rules in order, then the defaults", "[cgroups]") {
    auto writes =
        device_writes({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 10, 200, "rwm")});
    REQUIRE(writes.size() == 2 + 1 + default_allowed_devices().size());
    CHECK(writes[0].file == "devices.deny");
    CHECK(writes[0].line == "a");
    CHECK(writes[1].line == "a *:* rwm");
    CHECK(writes[2].file == "devices.allow");
    CHECK(writes[2].line == "c 10:200 rwm");
    auto allowed = lines_for(writes, "devices.allow");
    for (const char* device : {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                               "c 5:2 rwm", "c 136:* rwm"}) {
        CHECK(std::ranges::find(allowed, device) != allowed.end());
    }
}

TEST_CASE("device rules: an explicit deny of a default device takes away what it names", "[cgroups]") {
    auto writes = device_writes({rule(false, "c", 1, 3, "rwm"), rule(false, "c", 1, 5, "w")});
    auto allowed = lines_for(writes, "devices.allow");
    CHECK(std::ranges::find(allowed, "c 1:3 rwm") == allowed.end());
    CHECK(std::ranges::find(allowed, "c 1:5 rm") != allowed.end());
    CHECK(std::ranges::find(allowed, "c 1:9 rwm") != allowed.end());
}

TEST_CASE("linux.devices become allow rules after the config's own", "[cgroups]") {
    spec::Resources resources;
    resources.devices.push_back(rule(false, "a", std::nullopt, std::nullopt, "rwm"));
    std::vector<spec::Device> devices(3);
    devices[0].type = "c", devices[0].major = 10, devices[0].minor = 229;
    devices[1].type = "u", devices[1].major = 4, devices[1].minor = 1;
    devices[2].type = "p";
    auto out = resources_allowing_devices(&resources, devices);
    REQUIRE(out.devices.size() == 3);
    CHECK(format_device_rule(out.devices[1]) == "c 10:229 rwm");
    CHECK(out.devices[1].allow);
    CHECK(format_device_rule(out.devices[2]) == "c 4:1 rwm");
    CHECK(resources_allowing_devices(nullptr, {}).devices.empty());
}

TEST_CASE("paths() round-trips through manager_from_paths, with the directories it made", "[cgroups]") {
    std::map<std::string, std::string> saved = {
        {"hutch:layout", "v1"},
        {"cpu", "/sys/fs/cgroup/cpu,cpuacct/c"},
        {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c"},
        {"memory", "/sys/fs/cgroup/memory/p/c"},
        {"hutch:created", "/sys/fs/cgroup/cpu,cpuacct/c\n/sys/fs/cgroup/memory/p\n/sys/fs/cgroup/memory/p/c"},
    };
    CHECK(manager_from_paths(saved)->paths() == saved);
    saved.erase("hutch:created");
    CHECK(manager_from_paths(saved)->paths() == saved);
}

TEST_CASE("paths() of v2 and hybrid managers round-trip, each half keeping what it made", "[cgroups]") {
    std::map<std::string, std::string> v2 = {
        {"hutch:layout", "v2"},
        {"", "/sys/fs/cgroup/p/c"},
        {"hutch:created", "/sys/fs/cgroup/p\n/sys/fs/cgroup/p/c"},
    };
    CHECK(manager_from_paths(v2)->paths() == v2);
    CHECK(manager_from_paths(v2)->mount_binds().empty());  // only a new manager's mount is built
    std::map<std::string, std::string> hybrid = {
        {"hutch:layout", "hybrid"},
        {"memory", "/sys/fs/cgroup/memory/c"},
        {"", "/sys/fs/cgroup/unified/c"},
        {"hutch:created", "/sys/fs/cgroup/memory/c\n/sys/fs/cgroup/unified/c"},
    };
    CHECK(manager_from_paths(hybrid)->paths() == hybrid);
}

TEST_CASE("a state saved before layouts were recorded reopens as v1", "[cgroups]") {
    std::map<std::string, std::string> old = {{"memory", "/sys/fs/cgroup/memory/c"}};
    auto paths = manager_from_paths(old)->paths();
    CHECK(paths.at("hutch:layout") == "v1");
    CHECK(paths.at("memory") == "/sys/fs/cgroup/memory/c");
}

TEST_CASE("cgroup v2 paths: absolute from the mount, relative beside the caller's own cgroup", "[cgroups]") {
    std::map<std::string, std::string> own = {{"", "/user.slice/session-1.scope"}};
    auto dir = [&](std::string_view path, std::string_view id = "ctr") {
        auto resolved = resolve_v2_dir("/sys/fs/cgroup", own, path, id);
        REQUIRE(resolved);
        return *resolved;
    };
    CHECK(dir("/libpod_parent/libpod-abc") == "/sys/fs/cgroup/libpod_parent/libpod-abc");
    CHECK(dir("") == "/sys/fs/cgroup/user.slice/ctr");
    CHECK(dir("a/b/") == "/sys/fs/cgroup/user.slice/a/b");
    CHECK(resolve_v2_dir("/sys/fs/cgroup", {{"", "/"}}, "", "ctr") == "/sys/fs/cgroup/ctr");
    CHECK_FALSE(resolve_v2_dir("/sys/fs/cgroup", own, "/", "id"));
    CHECK_FALSE(resolve_v2_dir("/sys/fs/cgroup", own, "a/../../b", "id"));
    CHECK_FALSE(resolve_v2_dir("/sys/fs/cgroup", {}, "relative", "id"));
}
