// Idmapped bind mounts (runtime-spec 1.2: a mount's uidMappings/gidMappings, options idmap and
// ridmap) and binds whose source only the host's root can reach, through hutch-oci run. What the
// container sees is checked from inside, what it writes on the host's disk from outside.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "harness.h"

using namespace hutch::test;

namespace {

nlohmann::json mapping(uint32_t container_id, uint32_t host_id, uint32_t size) {
    return {{{"containerID", container_id}, {"hostID", host_id}, {"size", size}}};
}

// A directory (mode 0755) with one file, both owned by uid:gid on the host's disk.
std::string make_volume(const std::string& parent, const std::string& file, uid_t uid, gid_t gid) {
    std::string dir = parent + "/vol";
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    std::ofstream(dir + "/" + file) << "hi\n";
    REQUIRE(::chown((dir + "/" + file).c_str(), uid, gid) == 0);
    REQUIRE(::chown(dir.c_str(), uid, gid) == 0);
    REQUIRE(::chmod(dir.c_str(), 0755) == 0);
    return dir;
}

// Mount points made ahead: in a user namespace the container's root may not write the rootfs of
// the host's root.
void add_bind(Bundle& bundle, nlohmann::json mount) {
    std::string point = bundle.rootfs() + mount["destination"].get<std::string>();
    REQUIRE(::mkdir(point.c_str(), 0755) == 0);
    bundle.config["mounts"].push_back(std::move(mount));
}

std::string owner_on_disk(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "missing";
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

// Where the test's directories lie on a filesystem this kernel cannot idmap (the VM test bed's
// tmpfs, before Linux 6.3), hutch-oci refuses in one line, and there is nothing more to test.
bool idmap_unsupported(const CommandResult& r) {
    if (r.status == 0 || r.err.find("cannot be idmapped on this kernel") == std::string::npos) return false;
    WARN("skipped: the filesystem of /tmp cannot be idmapped on this kernel: " + r.err);
    return true;
}

void add_user_namespace(Bundle& bundle) {
    bundle.config["linux"]["namespaces"].push_back({{"type", "user"}});
    bundle.config["linux"]["uidMappings"] = mapping(0, 100000, 65536);
    bundle.config["linux"]["gidMappings"] = mapping(0, 100000, 65536);
}

}  // namespace

// The mount's user namespace maps containerID to hostID: a file owned by 1000 on disk is seen
// owned by 0, and what root makes through the mount is owned by 1000 on disk.
TEST_CASE("an idmapped bind without a user namespace shows and writes ids through its mappings", "[idmap]") {
    TempDir host;
    std::string vol = make_volume(host.path(), "owned", 1000, 1000);
    Bundle bundle;
    add_bind(bundle, {{"destination", "/vol"},
                      {"type", "bind"},
                      {"source", vol},
                      {"options", {"bind"}},
                      {"uidMappings", mapping(1000, 0, 1)},
                      {"gidMappings", mapping(1000, 0, 1)}});
    auto r = run_script(bundle, "stat -c %u:%g /vol/owned; touch /vol/made && stat -c %u:%g /vol/made");
    INFO(r.err);
    if (idmap_unsupported(r)) return;
    REQUIRE(r.status == 0);
    CHECK(r.out == "0:0\n0:0\n");
    CHECK(owner_on_disk(vol + "/made") == "1000:1000");
    CHECK(owner_on_disk(vol + "/owned") == "1000:1000");
}

// idmap without mappings of its own takes the container's (0 -> 100000): the host's root-owned
// files are the container root's. A mount's own mappings map a file owned by 1000 on disk to the
// container's root (host 100000).
TEST_CASE("idmapped binds in a user namespace: the container's mappings or the mount's own", "[idmap]") {
    TempDir host, other;
    std::string vol = make_volume(host.path(), "rootfile", 0, 0);
    std::string vol2 = make_volume(other.path(), "owned", 1000, 1000);
    Bundle bundle;
    add_user_namespace(bundle);
    add_bind(bundle,
             {{"destination", "/vol"}, {"type", "bind"}, {"source", vol}, {"options", {"rbind", "idmap"}}});
    add_bind(bundle, {{"destination", "/vol2"},
                      {"type", "bind"},
                      {"source", vol2},
                      {"options", {"bind", "ridmap"}},
                      {"uidMappings", mapping(1000, 100000, 1)},
                      {"gidMappings", mapping(1000, 100000, 1)}});
    auto r = run_script(bundle,
                        "stat -c %u:%g /vol/rootfile /vol2/owned; touch /vol/made /vol2/made && "
                        "stat -c %u:%g /vol/made /vol2/made");
    INFO(r.err);
    if (idmap_unsupported(r)) return;
    REQUIRE(r.status == 0);
    CHECK(r.out == "0:0\n0:0\n0:0\n0:0\n");
    CHECK(owner_on_disk(vol + "/made") == "0:0");
    CHECK(owner_on_disk(vol2 + "/made") == "1000:1000");
}

// The container's root is host uid 100000, which may not search a 0700 directory of the host's
// root: the runtime clones the bind before the container's process enters its user namespace.
TEST_CASE("in a user namespace, a bind whose source the container's root cannot reach", "[idmap][binds]") {
    TempDir host;
    std::string secret = host.path() + "/secret";
    REQUIRE(::mkdir(secret.c_str(), 0700) == 0);
    REQUIRE(::chmod(secret.c_str(), 0700) == 0);
    std::string vol = make_volume(secret, "hello", 100000, 100000);
    Bundle bundle;
    add_user_namespace(bundle);
    add_bind(bundle,
             {{"destination", "/vol"}, {"type", "bind"}, {"source", vol}, {"options", {"rbind", "ro"}}});
    auto r = run_script(bundle, "cat /vol/hello; stat -c %u /vol/hello; touch /vol/x || echo read-only");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "hi\n0\nread-only\n");
}
