// Mount option parsing and rootfs validation: pure functions, no root, no kernel state.
#include "namespaces/rootfs.h"

#include <sys/mount.h>

#include <catch2/catch.hpp>

using namespace hutch;
using rootfs::parse_mount_options;

namespace {

spec::Spec spec_with_mount(spec::Mount m) {
    spec::Spec s;
    s.mounts.push_back(std::move(m));
    return s;
}

std::string validate_error(const spec::Spec& s) {
    auto r = rootfs::validate(s);
    return r ? "" : r.error().message;
}

spec::Spec spec_with_sysctl(const std::string& key, std::vector<spec::NamespaceType> namespaces) {
    spec::Spec s;
    s.linux_.emplace();
    for (auto t : namespaces) s.linux_->namespaces.push_back({t, ""});
    s.linux_->sysctl[key] = "1";
    return s;
}

}  // namespace

TEST_CASE("mount options map to flags", "[rootfs]") {
    auto o = parse_mount_options({"ro", "nosuid", "nodev", "noexec", "relatime"}).value();
    CHECK(o.flags == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME));
    CHECK(o.data.empty());
    CHECK(o.propagation.empty());
    CHECK_FALSE(o.bind());
}

TEST_CASE("a later option undoes an earlier one", "[rootfs]") {
    auto o = parse_mount_options({"ro", "nosuid", "rw", "suid", "noatime", "atime"}).value();
    CHECK(o.flags == 0);
    CHECK(o.cleared == (MS_RDONLY | MS_NOSUID | MS_NOATIME));
    auto p = parse_mount_options({"rw", "ro"}).value();
    CHECK(p.flags == MS_RDONLY);
    CHECK(p.cleared == 0);
}

TEST_CASE("every flag option is known", "[rootfs]") {
    for (const char* name :
         {"sync", "async", "dirsync", "remount", "mand", "nomand", "diratime", "nodiratime", "norelatime",
          "strictatime", "nostrictatime", "lazytime", "nolazytime", "dev", "exec", "defaults"}) {
        INFO(name);
        CHECK(parse_mount_options({name}).value().data.empty());
    }
    CHECK(parse_mount_options({"lazytime"}).value().flags == MS_LAZYTIME);
    CHECK(parse_mount_options({"strictatime"}).value().flags == MS_STRICTATIME);
}

TEST_CASE("bind and rbind", "[rootfs]") {
    auto b = parse_mount_options({"bind"}).value();
    CHECK(b.bind());
    CHECK_FALSE(b.recursive());
    auto r = parse_mount_options({"rbind", "ro"}).value();
    CHECK(r.flags == (MS_BIND | MS_REC | MS_RDONLY));
    CHECK(rootfs::is_bind_mount({"/x", "", "/src", {"rbind"}}));
    CHECK(rootfs::is_bind_mount({"/x", "bind", "/src", {}}));
    CHECK_FALSE(rootfs::is_bind_mount({"/x", "tmpfs", "tmpfs", {"ro"}}));
}

TEST_CASE("propagation options are kept in order, apart from the flags", "[rootfs]") {
    auto o = parse_mount_options({"rbind", "rprivate", "shared", "runbindable", "slave", "rslave"}).value();
    CHECK(o.flags == (MS_BIND | MS_REC));
    REQUIRE(o.propagation.size() == 5);
    CHECK(o.propagation[0] == (MS_PRIVATE | MS_REC));
    CHECK(o.propagation[1] == MS_SHARED);
    CHECK(o.propagation[2] == (MS_UNBINDABLE | MS_REC));
    CHECK(o.propagation[3] == MS_SLAVE);
    CHECK(o.propagation[4] == (MS_SLAVE | MS_REC));
}

TEST_CASE("unknown options go to the data string", "[rootfs]") {
    auto o = parse_mount_options({"nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}).value();
    CHECK(o.flags == MS_NOSUID);
    CHECK(o.data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
}

TEST_CASE("recursive attribute options", "[rootfs]") {
    auto o = parse_mount_options({"rbind", "rro", "rnosuid", "rnoatime"}).value();
    CHECK(o.attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME));
    CHECK(o.attr_clr == MOUNT_ATTR__ATIME);
    auto p = parse_mount_options({"rro", "rrw"}).value();
    CHECK(p.attr_set == 0);
    CHECK(p.attr_clr == MOUNT_ATTR_RDONLY);
}

TEST_CASE("tmpcopyup is recognised, idmap refused", "[rootfs]") {
    CHECK(parse_mount_options({"tmpcopyup"}).value().tmpcopyup);
    auto r = parse_mount_options({"idmap"});
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("idmap"));
    CHECK_FALSE(parse_mount_options({""}));
}

TEST_CASE("rootfs propagation values", "[rootfs]") {
    CHECK_FALSE(rootfs::parse_rootfs_propagation("").value().has_value());
    CHECK(*rootfs::parse_rootfs_propagation("rslave").value() == (MS_SLAVE | MS_REC));
    CHECK(*rootfs::parse_rootfs_propagation("shared").value() == MS_SHARED);
    CHECK(*rootfs::parse_rootfs_propagation("runbindable").value() == (MS_UNBINDABLE | MS_REC));
    CHECK_FALSE(rootfs::parse_rootfs_propagation("sideways"));
}

TEST_CASE("clean_path is lexical and stays at /", "[rootfs]") {
    CHECK(rootfs::clean_path("dev//pts/.") == "/dev/pts");
    CHECK(rootfs::clean_path("/../../etc") == "/etc");
    CHECK(rootfs::clean_path("/a/b/../c/") == "/a/c");
    CHECK(rootfs::clean_path("") == "/");
}

TEST_CASE("validate accepts a runc-like spec", "[rootfs]") {
    spec::Spec s;
    s.mounts = {{"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
                {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
                {"/dev/pts",
                 "devpts",
                 "devpts",
                 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
                {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
                {"/data", "", "/srv/data", {"rbind", "ro", "rprivate"}},
                {"/run", "tmpfs", "tmpfs", {"tmpcopyup"}}};
    s.linux_.emplace();
    s.linux_->rootfs_propagation = "rslave";
    s.linux_->devices.push_back({"c", "/dev/fuse", 10, 229, 0666, 0, 0});
    s.linux_->masked_paths = {"/proc/kcore"};
    s.linux_->readonly_paths = {"/proc/sys"};
    CHECK(validate_error(s) == "");
}

TEST_CASE("validate names the field that is wrong", "[rootfs]") {
    CHECK(validate_error(spec_with_mount({"proc", "proc", "proc", {}})) ==
          "mounts[0]: destination \"proc\" must be absolute");
    CHECK_THAT(validate_error(spec_with_mount({"/x", "", "/src", {"ro"}})),
               Catch::StartsWith("mounts[0]: type is required"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "bind", "", {}})),
               Catch::StartsWith("mounts[0]: source is required"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "bind", "/src", {"tmpcopyup"}})),
               Catch::Contains("tmpcopyup needs type tmpfs"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "tmpfs", "tmpfs", {"idmap"}})),
               Catch::StartsWith("mounts[0]: option \"idmap\""));
    CHECK_THAT(validate_error(spec_with_mount({"/../", "tmpfs", "tmpfs", {}})),
               Catch::Contains("container's root"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "tmpfs", "tmpfs", {"rro"}})),
               Catch::Contains("bind mounts only"));

    spec::Spec s;
    s.linux_.emplace();
    s.linux_->rootfs_propagation = "sideways";
    CHECK_THAT(validate_error(s), Catch::StartsWith("linux.rootfsPropagation: \"sideways\""));
    s.linux_->rootfs_propagation = "";
    s.linux_->devices.push_back({"x", "/dev/x", 1, 1, {}, {}, {}});
    CHECK_THAT(validate_error(s), Catch::StartsWith("linux.devices[0]: type \"x\""));
    s.linux_->devices = {{"c", "dev/x", 1, 1, {}, {}, {}}};
    CHECK_THAT(validate_error(s), Catch::StartsWith("linux.devices[0]: path \"dev/x\" must be absolute"));
    s.linux_->devices.clear();
    s.linux_->masked_paths = {"proc/kcore"};
    CHECK_THAT(validate_error(s), Catch::StartsWith("linux.maskedPaths[0]"));
    s.linux_->masked_paths.clear();
    s.linux_->readonly_paths = {"proc/sys"};
    CHECK_THAT(validate_error(s), Catch::StartsWith("linux.readonlyPaths[0]"));
}

TEST_CASE("validate allows only namespaced sysctls", "[rootfs]") {
    using T = spec::NamespaceType;
    CHECK(validate_error(spec_with_sysctl("net.ipv4.ip_forward", {T::network})) == "");
    CHECK(validate_error(spec_with_sysctl("net/ipv4/conf/eth0.100/forwarding", {T::network})) == "");
    CHECK(validate_error(spec_with_sysctl("kernel.shmmax", {T::ipc})) == "");
    CHECK(validate_error(spec_with_sysctl("fs.mqueue.msg_max", {T::ipc})) == "");
    CHECK(validate_error(spec_with_sysctl("kernel.domainname", {T::uts})) == "");
    CHECK(validate_error(spec_with_sysctl("net.ipv4.ip_forward", {})) ==
          "linux.sysctl.net.ipv4.ip_forward: not allowed in the host's network namespace");
    CHECK_THAT(validate_error(spec_with_sysctl("kernel.shmmax", {T::network})),
               Catch::Contains("IPC namespace"));
    CHECK_THAT(validate_error(spec_with_sysctl("kernel.hostname", {T::uts})), Catch::Contains("hostname"));
    CHECK_THAT(validate_error(spec_with_sysctl("vm.swappiness", {T::network, T::ipc, T::uts})),
               Catch::StartsWith("linux.sysctl.vm.swappiness: not in a namespace"));
    CHECK_THAT(validate_error(spec_with_sysctl("net..ipv4", {T::network})), Catch::Contains("malformed key"));
    CHECK_THAT(validate_error(spec_with_sysctl("net/../../etc", {T::network})),
               Catch::Contains("malformed key"));
}
