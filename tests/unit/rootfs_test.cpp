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

TEST_CASE("tmpcopyup is recognised, an empty option refused", "[rootfs]") {
    CHECK(parse_mount_options({"tmpcopyup"}).value().tmpcopyup);
    CHECK_FALSE(parse_mount_options({""}));
}

// Which values linux.rootfsPropagation may have is spec/'s rule (tests/unit/spec_test.cpp): each
// of those maps to its flags, and unset to none.
TEST_CASE("rootfs propagation values map to their flags", "[rootfs]") {
    CHECK_FALSE(rootfs::parse_rootfs_propagation("").value().has_value());
    CHECK(rootfs::parse_rootfs_propagation("rslave").value() == (MS_SLAVE | MS_REC));
    CHECK(rootfs::parse_rootfs_propagation("slave").value() == MS_SLAVE);
    CHECK(rootfs::parse_rootfs_propagation("shared").value() == MS_SHARED);
    CHECK(rootfs::parse_rootfs_propagation("rshared").value() == (MS_SHARED | MS_REC));
    CHECK(rootfs::parse_rootfs_propagation("private").value() == MS_PRIVATE);
    CHECK(rootfs::parse_rootfs_propagation("rprivate").value() == (MS_PRIVATE | MS_REC));
    CHECK(rootfs::parse_rootfs_propagation("unbindable").value() == MS_UNBINDABLE);
    CHECK(rootfs::parse_rootfs_propagation("runbindable").value() == (MS_UNBINDABLE | MS_REC));
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

// The options of a mount against its type: checked here, as the rest of config.json is by its
// parser (tests/unit/spec_test.cpp).
TEST_CASE("validate names the mount whose options do not fit", "[rootfs]") {
    CHECK_THAT(validate_error(spec_with_mount({"/x", "", "/src", {"ro"}})),
               Catch::StartsWith("mounts[0]: type is required"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "bind", "", {}})),
               Catch::StartsWith("mounts[0]: source is required"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "bind", "/src", {"tmpcopyup"}})),
               Catch::Contains("tmpcopyup needs type tmpfs"));
    CHECK(validate_error(spec_with_mount({"/x", "tmpfs", "tmpfs", {"nosuid", ""}})) ==
          "mounts[0]: empty mount option");
    CHECK_THAT(validate_error(spec_with_mount({"/../", "tmpfs", "tmpfs", {}})),
               Catch::Contains("container's root"));
    CHECK_THAT(validate_error(spec_with_mount({"/x", "tmpfs", "tmpfs", {"rro"}})),
               Catch::Contains("bind mounts only"));
}

TEST_CASE("linux.mountLabel goes on new filesystems that keep labels, as a quoted context", "[rootfs]") {
    const std::string label = "system_u:object_r:container_file_t:s0:c1,c2";
    CHECK(rootfs::mount_context_for("tmpfs", "mode=755", label) == label);
    CHECK(rootfs::mount_context_for("devpts", "", label) == label);
    for (const char* self_labelled : {"proc", "sysfs", "mqueue", "cgroup", "cgroup2"}) {
        INFO(self_labelled);
        CHECK(rootfs::mount_context_for(self_labelled, "", label).empty());
    }
    // The mount's own context wins; no label, no context.
    CHECK(rootfs::mount_context_for("tmpfs", "size=1m,context=\"x:y:z:s0\"", label).empty());
    CHECK(rootfs::mount_context_for("tmpfs", "context=x:y:z:s0", label).empty());
    CHECK(rootfs::mount_context_for("tmpfs", "rootcontext=x:y:z:s0", label) == label);
    CHECK(rootfs::mount_context_for("tmpfs", "", "").empty());
    CHECK(rootfs::with_context_option("mode=755", label) ==
          "mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\"");
    CHECK(rootfs::with_context_option("", label) ==
          "context=\"system_u:object_r:container_file_t:s0:c1,c2\"");
    CHECK(rootfs::with_context_option("mode=755", "") == "mode=755");
}
