// spec/: config.json in, a validated Spec out, and one-line errors that name the field.
#include "spec/spec.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

using hutch::spec::default_spec_json;
using hutch::spec::NamespaceType;
using hutch::spec::parse_spec;
using nlohmann::json;

namespace {

json base_spec(bool rootless = false) { return json::parse(default_spec_json(rootless)); }

// The error parse_spec gives for doc; fails the test when doc parses.
std::string error_of(const json& doc) {
    auto result = parse_spec(doc.dump());
    INFO(doc.dump());
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message.find('\n') == std::string::npos);
    return result.error().message;
}

hutch::spec::Spec parsed(const json& doc) {
    auto result = parse_spec(doc.dump());
    INFO((result ? std::string() : result.error().message));
    REQUIRE(result.has_value());
    return *result;
}

}  // namespace

TEST_CASE("default spec round-trips through parse_spec", "[spec]") {
    auto spec = parsed(base_spec());
    CHECK(spec.oci_version == "1.2.0");
    CHECK(spec.process.terminal);
    CHECK(spec.process.args == std::vector<std::string>{"sh"});
    CHECK(spec.process.cwd == "/");
    REQUIRE(spec.process.capabilities);
    CHECK(spec.process.capabilities->bounding.size() == 3);
    REQUIRE(spec.process.rlimits.size() == 1);
    CHECK(spec.process.rlimits[0].soft == 1024);
    CHECK(spec.process.no_new_privileges);
    CHECK(spec.root.path == "rootfs");
    CHECK(spec.root.readonly);
    CHECK(spec.hostname == "hutch");
    REQUIRE(spec.mounts.size() == 7);
    CHECK(spec.mounts[2].options.back() == "gid=5");
    REQUIRE(spec.linux_);
    CHECK(spec.linux_->namespaces.size() == 6);
    CHECK(hutch::spec::has_namespace(spec, NamespaceType::network));
    CHECK(hutch::spec::has_namespace(spec, NamespaceType::cgroup));
    CHECK_FALSE(hutch::spec::has_namespace(spec, NamespaceType::user));
    REQUIRE(spec.linux_->resources);
    REQUIRE(spec.linux_->resources->devices.size() == 1);
    CHECK_FALSE(spec.linux_->resources->devices[0].allow);
    CHECK(spec.linux_->resources->devices[0].type == "a");
    CHECK(spec.linux_->masked_paths.size() == 10);
    CHECK(spec.linux_->readonly_paths.size() == 5);
}

TEST_CASE("rootless default spec round-trips through parse_spec", "[spec]") {
    auto spec = parsed(base_spec(true));
    REQUIRE(spec.linux_);
    CHECK_FALSE(hutch::spec::has_namespace(spec, NamespaceType::network));
    const auto* user = hutch::spec::find_namespace(spec, NamespaceType::user);
    REQUIRE(user);
    CHECK(user->path.empty());
    REQUIRE(spec.linux_->uid_mappings.size() == 1);
    CHECK(spec.linux_->uid_mappings[0].host_id == ::geteuid());
    CHECK(spec.linux_->uid_mappings[0].size == 1);
    REQUIRE(spec.linux_->gid_mappings.size() == 1);
    CHECK(spec.linux_->gid_mappings[0].host_id == ::getegid());
    CHECK_FALSE(spec.linux_->resources);
    for (const auto& mount : spec.mounts) {
        if (mount.destination == "/sys") {
            CHECK(mount.type == "none");
            CHECK(mount.source == "/sys");
            CHECK(mount.options.front() == "rbind");
        }
        if (mount.destination == "/dev/pts") CHECK(mount.options.back() == "mode=0620");
    }
}

TEST_CASE("default spec lists fields in runc's order", "[spec]") {
    std::string text = default_spec_json(false);
    CHECK(text.find("\"ociVersion\"") < text.find("\"process\""));
    CHECK(text.find("\"process\"") < text.find("\"root\""));
    CHECK(text.find("\"mounts\"") < text.find("\"linux\""));
    CHECK(text.find("\n  \"process\"") != std::string::npos);
}

TEST_CASE("namespace names", "[spec]") {
    CHECK(std::string(hutch::spec::namespace_name(NamespaceType::network)) == "network");
    CHECK(hutch::spec::namespace_type_from_name("time") == NamespaceType::time);
    CHECK_FALSE(hutch::spec::namespace_type_from_name("net"));
}

TEST_CASE("unknown fields are tolerated", "[spec]") {
    auto doc = base_spec();
    doc["somethingNew"] = {{"a", 1}};
    doc["process"]["futureField"] = true;
    doc["linux"]["resources"]["memory"] = {{"limit", 1}, {"brandNew", "x"}};
    doc["hooks"] = {{"someFutureHook", json::array({{{"path", "relative"}}})}};
    doc["windows"] = {{"layerFolders", json::array()}};
    parsed(doc);
}

TEST_CASE("null members read as absent", "[spec]") {
    auto doc = base_spec();
    doc["process"]["capabilities"] = nullptr;
    doc["linux"]["seccomp"] = nullptr;
    auto spec = parsed(doc);
    CHECK_FALSE(spec.process.capabilities);
}

TEST_CASE("malformed JSON gives one line", "[spec]") {
    auto result = parse_spec("{\"ociVersion\": \"1.0.2\",\n \"process\": {\n");
    REQUIRE_FALSE(result);
    CHECK(result.error().message.starts_with("invalid JSON: "));
    CHECK(result.error().message.find('\n') == std::string::npos);
    CHECK(result.error().message.find("[json.exception") == std::string::npos);
    CHECK_FALSE(parse_spec(""));
    CHECK(parse_spec("[]").error().message == "expected a JSON object at the top level");
}

TEST_CASE("ociVersion: 1.x accepted, others refused", "[spec]") {
    auto doc = base_spec();
    for (const char* version : {"1.0.0", "1.0.2", "1.0.2-dev", "1.1.0", "1.2.0", "1.3.0+dev"}) {
        doc["ociVersion"] = version;
        CHECK(parsed(doc).oci_version == version);
    }
    doc["ociVersion"] = "2.0.0";
    CHECK(error_of(doc) == "ociVersion: unsupported version \"2.0.0\" (hutch implements runtime-spec 1.x)");
    doc["ociVersion"] = "1";
    CHECK(error_of(doc).starts_with("ociVersion: unsupported version"));
    doc.erase("ociVersion");
    CHECK(error_of(doc) == "ociVersion: required");
}

TEST_CASE("type errors name the field", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["resources"]["memory"] = {{"limit", "1G"}};
    CHECK(error_of(doc) == "linux.resources.memory.limit: expected integer");
    doc["linux"]["resources"]["memory"] = {{"limit", 1.5}};
    CHECK(error_of(doc) == "linux.resources.memory.limit: expected integer");
    doc["linux"]["resources"]["memory"] = {{"limit", -1}, {"swap", -1}};
    CHECK(parsed(doc).linux_->resources->memory->limit == -1);
    doc["linux"]["resources"]["memory"] = {{"swappiness", -1}};
    CHECK(error_of(doc).starts_with("linux.resources.memory.swappiness: integer out of range"));

    doc = base_spec();
    doc["process"]["terminal"] = "yes";
    CHECK(error_of(doc) == "process.terminal: expected boolean");
    doc = base_spec();
    doc["process"]["user"]["uid"] = 4294967296;
    CHECK(error_of(doc) == "process.user.uid: integer out of range [0, 4294967295]");
    doc = base_spec();
    doc["process"]["args"][0] = 3;
    CHECK(error_of(doc) == "process.args[0]: expected string");
    doc = base_spec();
    doc["mounts"] = json::object();
    CHECK(error_of(doc) == "mounts: expected array");
    doc = base_spec();
    doc["mounts"][1]["options"] = "nosuid";
    CHECK(error_of(doc) == "mounts[1].options: expected array");
    doc = base_spec();
    doc["annotations"] = {{"a", 1}};
    CHECK(error_of(doc) == "annotations.a: expected string");
}

TEST_CASE("required fields", "[spec]") {
    auto doc = base_spec();
    doc.erase("root");
    CHECK(error_of(doc) == "root: required");
    doc = base_spec();
    doc["root"].erase("path");
    CHECK(error_of(doc) == "root.path: required");
    doc = base_spec();
    doc.erase("process");
    CHECK(error_of(doc) == "process: required");
    doc = base_spec();
    doc["process"]["args"] = json::array();
    CHECK(error_of(doc) == "process.args: must not be empty");
    doc = base_spec();
    doc["process"]["cwd"] = "tmp";
    CHECK(error_of(doc) == "process.cwd: must be an absolute path");
    doc = base_spec();
    doc["process"]["env"].push_back("NOEQUALS");
    CHECK(error_of(doc) == "process.env[2]: expected NAME=VALUE");
}

TEST_CASE("root.path is kept as written", "[spec]") {
    auto doc = base_spec();
    doc["root"]["path"] = "../elsewhere/rootfs";
    CHECK(parsed(doc).root.path == "../elsewhere/rootfs");
}

TEST_CASE("mounts: destinations and idmapped mounts", "[spec]") {
    auto doc = base_spec();
    doc["mounts"].push_back({{"destination", "data"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    CHECK(parsed(doc).mounts.back().destination == "/data");
    doc["mounts"][7]["destination"] = "";
    CHECK(error_of(doc) == "mounts[7].destination: must be an absolute path");
    doc["mounts"][7].erase("destination");
    CHECK(error_of(doc) == "mounts[7].destination: required");
    json map = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    doc["mounts"][7] = {{"destination", "/x"}, {"source", "/s"}, {"options", {"rbind", "ridmap"}}};
    CHECK(error_of(doc) ==
          "mounts[7]: idmap without uidMappings and gidMappings needs a user namespace in linux.namespaces");
    doc["mounts"][7]["uidMappings"] = map;
    CHECK(error_of(doc) == "mounts[7].gidMappings: required with uidMappings");
    doc["mounts"][7]["gidMappings"] = map;
    hutch::spec::Mount m = parsed(doc).mounts.back();
    CHECK((m.idmap && m.idmap_recursive && m.uid_mappings.size() == 1 && m.gid_mappings[0].host_id == 1000));
    doc["mounts"][7]["options"] = {"bind"};  // mappings alone make it idmap, as in runc
    m = parsed(doc).mounts.back();
    CHECK((m.idmap && !m.idmap_recursive));
    doc["mounts"][7].erase("uidMappings");
    CHECK(error_of(doc) == "mounts[7].uidMappings: required with gidMappings");
    doc["mounts"][7]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}};
    CHECK(error_of(doc) == "mounts[7].uidMappings[0].size: must be greater than zero");
    doc["mounts"][7] = {{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"idmap"}}};
    doc["mounts"][7]["uidMappings"] = map;
    doc["mounts"][7]["gidMappings"] = map;
    CHECK(error_of(doc) == "mounts[7]: idmapped mounts (idmap, ridmap, uidMappings) need a bind mount");
}

TEST_CASE("namespaces: types, duplicates, user mappings", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["namespaces"].push_back({{"type", "net"}});
    CHECK(error_of(doc) == "linux.namespaces[6].type: unknown namespace type \"net\"");
    doc["linux"]["namespaces"][6] = {{"type", "pid"}};
    CHECK(error_of(doc) == "linux.namespaces[6].type: duplicate namespace \"pid\"");
    doc["linux"]["namespaces"][6] = {{"type", "time"}};
    CHECK(parsed(doc).linux_->namespaces.back().type == NamespaceType::time);
    doc["linux"]["namespaces"][6] = {{"type", "user"}};
    CHECK(error_of(doc) == "linux.uidMappings: required when a new user namespace is requested");
    doc["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    CHECK(error_of(doc) == "linux.gidMappings: required when a new user namespace is requested");
    doc["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}};
    CHECK(error_of(doc) == "linux.gidMappings[0].size: must be greater than zero");
    doc["linux"]["gidMappings"][0]["size"] = 1;
    parsed(doc);
    // Joined by path: the namespace's mappings are already written.
    doc["linux"]["namespaces"][6] = {{"type", "user"}, {"path", "/proc/1/ns/user"}};
    doc["linux"].erase("uidMappings");
    doc["linux"].erase("gidMappings");
    parsed(doc);
    doc["linux"]["namespaces"][6]["path"] = "proc/1/ns/user";
    CHECK(error_of(doc) == "linux.namespaces[6].path: must be an absolute path");
    doc = base_spec();
    doc["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    CHECK(error_of(doc) == "linux.uidMappings: id mappings need a user namespace in linux.namespaces");
}

TEST_CASE("hostname needs a uts namespace", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["namespaces"] = {{{"type", "mount"}}};
    CHECK(error_of(doc) == "hostname: setting it needs a uts namespace in linux.namespaces");
    doc.erase("hostname");
    parsed(doc);
}

TEST_CASE("capabilities and rlimits", "[spec]") {
    auto doc = base_spec();
    doc["process"]["capabilities"]["ambient"] = {"CAP_KILL", "CAP_FOO"};
    CHECK(error_of(doc) == "process.capabilities.ambient[1]: unknown capability \"CAP_FOO\"");
    doc["process"]["capabilities"]["ambient"] = {"cap_kill"};
    CHECK(error_of(doc) == "process.capabilities.ambient[0]: unknown capability \"cap_kill\"");
    doc["process"]["capabilities"]["ambient"] = {"CAP_SYS_ADMIN"};
    parsed(doc);  // not inheritable: the runtime skips it, as runc does
    doc["process"]["capabilities"]["effective"] = {"CAP_KILL", "CAP_CHOWN", "CAP_SETUID"};
    doc["process"]["capabilities"]["permitted"] = {"CAP_KILL"};
    CHECK(error_of(doc) ==
          "process.capabilities.effective: CAP_CHOWN, CAP_SETUID not in process.capabilities.permitted");
    CHECK(hutch::spec::is_capability_name("CAP_SYS_ADMIN"));
    for (const char* name : {"cap_chown", "CHOWN", "0", "CAP_chown", "CAP_FOO", ""}) {
        INFO(name);
        CHECK_FALSE(hutch::spec::is_capability_name(name));
    }

    doc = base_spec();
    doc["process"]["rlimits"].push_back({{"type", "RLIMIT_BOGUS"}, {"soft", 1}, {"hard", 1}});
    CHECK(error_of(doc) == "process.rlimits[1].type: unknown rlimit \"RLIMIT_BOGUS\"");
    doc["process"]["rlimits"][1] = {{"type", "RLIMIT_CORE"}, {"soft", 2}, {"hard", 1}};
    CHECK(error_of(doc) == "process.rlimits[1]: soft limit 2 is greater than hard limit 1");
    doc["process"]["rlimits"][1] = {{"type", "RLIMIT_CORE"}, {"soft", UINT64_MAX}, {"hard", 5}};
    CHECK(error_of(doc) ==
          "process.rlimits[1]: soft limit 18446744073709551615 is greater than hard limit 5");
    doc["process"]["rlimits"][1] = {{"type", "RLIMIT_NOFILE"}, {"soft", 1}, {"hard", 1}};
    CHECK(error_of(doc) == "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
    doc["process"]["rlimits"][1] = {{"type", "RLIMIT_CORE"}, {"soft", 1}};
    CHECK(error_of(doc) == "process.rlimits[1].hard: required");
}

TEST_CASE("rootfsPropagation, maskedPaths and readonlyPaths", "[spec]") {
    auto doc = base_spec();
    for (const char* value :
         {"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}) {
        doc["linux"]["rootfsPropagation"] = value;
        CHECK(parsed(doc).linux_->rootfs_propagation == value);
    }
    doc["linux"]["rootfsPropagation"] = "sideways";
    CHECK(error_of(doc) == "linux.rootfsPropagation: unknown propagation \"sideways\"");
    doc = base_spec();
    doc["linux"]["maskedPaths"][1] = "proc/kcore";
    CHECK(error_of(doc) == "linux.maskedPaths[1]: must be an absolute path");
    doc = base_spec();
    doc["linux"]["readonlyPaths"][0] = "proc/sys";
    CHECK(error_of(doc) == "linux.readonlyPaths[0]: must be an absolute path");
}

TEST_CASE("devices and device cgroup rules", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["devices"] = {{{"type", "x"}, {"path", "/dev/fuse"}, {"major", 10}, {"minor", 229}}};
    CHECK(error_of(doc) == "linux.devices[0].type: unknown device type \"x\" (expected c, b, u or p)");
    doc["linux"]["devices"][0]["type"] = "c";
    doc["linux"]["devices"][0]["path"] = "dev/fuse";
    CHECK(error_of(doc) == "linux.devices[0].path: must be an absolute path");
    for (const char* no_file : {"/", "/dev/..", "/dev/./", "//"}) {
        doc["linux"]["devices"][0]["path"] = no_file;
        CHECK(error_of(doc) == std::string("linux.devices[0].path: \"") + no_file + "\" names no file");
    }
    doc["linux"]["devices"][0]["path"] = "/dev/fuse";
    doc["linux"]["devices"][0]["major"] = -1;
    CHECK(error_of(doc) == "linux.devices[0].major: must not be negative");
    doc["linux"]["devices"][0]["major"] = 10;
    doc["linux"]["devices"][0]["minor"] = -229;
    CHECK(error_of(doc) == "linux.devices[0].minor: must not be negative");
    doc["linux"]["devices"][0].erase("minor");
    CHECK(error_of(doc) == "linux.devices[0].minor: required");
    doc["linux"]["devices"][0] = {{"type", "p"}, {"path", "/dev/fifo"}, {"fileMode", 0666}};
    CHECK(parsed(doc).linux_->devices[0].file_mode == 0666u);

    doc = base_spec();
    doc["linux"]["resources"]["devices"].push_back({{"allow", true}, {"type", "c"}, {"access", "rwx"}});
    CHECK(error_of(doc) == "linux.resources.devices[1].access: \"rwx\" must contain only r, w and m");
    doc["linux"]["resources"]["devices"][1] = {{"allow", true}, {"type", "u"}};
    CHECK(error_of(doc) == "linux.resources.devices[1].type: unknown device type \"u\" (expected a, c or b)");
    doc["linux"]["resources"]["devices"][1] = {
        {"allow", true}, {"type", "c"}, {"major", 1}, {"access", "rw"}};
    auto rule = parsed(doc).linux_->resources->devices[1];
    CHECK(rule.major == 1);
    CHECK_FALSE(rule.minor);
    CHECK(rule.access == "rw");
}

// runc's rule (libcontainer/configs/validate), the only one hutch has: the runtime writes what
// is accepted here.
TEST_CASE("sysctl: only namespaced ones, each with its namespace, as runc allows", "[spec]") {
    auto with_sysctl = [](const std::string& key, std::vector<std::string> namespaces) {
        auto doc = base_spec();
        doc.erase("hostname");
        doc["linux"]["namespaces"] = json::array();
        for (const auto& type : namespaces) doc["linux"]["namespaces"].push_back({{"type", type}});
        doc["linux"]["sysctl"] = {{key, "1"}};
        return doc;
    };
    auto accepted = [&](const std::string& key, std::vector<std::string> namespaces) {
        INFO(key);
        return parse_spec(with_sysctl(key, std::move(namespaces)).dump()).has_value();
    };
    // The IPC namespace's, runc's list: exactly these and fs.mqueue.*.
    for (const char* key : {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue.msg_max",
                            "kernel/shmmax", "fs/mqueue/queues_max"}) {
        CHECK(accepted(key, {"ipc"}));
        CHECK(error_of(with_sysctl(key, {"network", "uts"}))
                  .ends_with(": needs an ipc namespace in linux.namespaces"));
    }
    CHECK(error_of(with_sysctl("kernel.shm_next_id", {"ipc"})) ==
          "linux.sysctl.kernel.shm_next_id: sysctl is not namespaced, refusing to set it for the host");
    // The network namespace's: net.*, a key with slashes keeping its dots (a VLAN interface).
    for (const char* key : {"net.ipv4.ip_forward", "net/ipv4/ip_unprivileged_port_start",
                            "net/ipv4/conf/eth0.100/forwarding"}) {
        CHECK(accepted(key, {"network"}));
        CHECK(error_of(with_sysctl(key, {"ipc", "uts"}))
                  .ends_with(": needs a network namespace in linux.namespaces"));
    }
    // The uts namespace's: the domain name; the host name has its own field, which runc makes the
    // only way to set it.
    CHECK(accepted("kernel.domainname", {"uts"}));
    CHECK(error_of(with_sysctl("kernel.domainname", {"ipc", "network"})) ==
          "linux.sysctl.kernel.domainname: needs a uts namespace in linux.namespaces");
    for (const auto& namespaces : {std::vector<std::string>{"uts"}, std::vector<std::string>{}}) {
        CHECK(error_of(with_sysctl("kernel.hostname", namespaces)) ==
              "linux.sysctl.kernel.hostname: conflicts with the \"hostname\" field; set that instead");
    }
    CHECK(error_of(with_sysctl("kernel/hostname", {"uts"})) ==
          "linux.sysctl.kernel/hostname: conflicts with the \"hostname\" field; set that instead");
    // Everything else is the host's.
    CHECK(error_of(with_sysctl("vm.swappiness", {"ipc", "network", "uts"})) ==
          "linux.sysctl.vm.swappiness: sysctl is not namespaced, refusing to set it for the host");
    // A key names one file beneath /proc/sys, nothing else.
    CHECK(error_of(with_sysctl("net..ipv4", {"network"})) == "linux.sysctl.net..ipv4: malformed key");
    CHECK(error_of(with_sysctl("net/../../etc/passwd", {"network"})) ==
          "linux.sysctl.net/../../etc/passwd: malformed key");
    CHECK(error_of(with_sysctl("net.ipv4.", {"network"})) == "linux.sysctl.net.ipv4.: malformed key");
    CHECK(error_of(with_sysctl("", {"network"})) == "linux.sysctl: a key is empty");
    // A namespace joined by path counts, as in runc.
    auto joined = with_sysctl("net.ipv4.ip_forward", {});
    joined["linux"]["namespaces"] = {{{"type", "network"}, {"path", "/run/netns/x"}}};
    parsed(joined);
}

TEST_CASE("sysctl_path: the file under /proc/sys a key names", "[spec]") {
    CHECK(hutch::spec::sysctl_path("net.ipv4.ip_forward") == "net/ipv4/ip_forward");
    CHECK(hutch::spec::sysctl_path("net/ipv4/conf/eth0.100/forwarding") ==
          "net/ipv4/conf/eth0.100/forwarding");
    CHECK(hutch::spec::sysctl_path("kernel.shmmax") == "kernel/shmmax");
}

TEST_CASE("seccomp", "[spec]") {
    auto doc = base_spec();
    json seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"},
                    {"defaultErrnoRet", 1},
                    {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
                    {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
                    {"syscalls",
                     {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
                      {{"names", {"personality"}},
                       {"action", "SCMP_ACT_ALLOW"},
                       {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}}}}}}}};
    doc["linux"]["seccomp"] = seccomp;
    auto spec = parsed(doc);
    REQUIRE(spec.linux_->seccomp);
    CHECK(spec.linux_->seccomp->default_errno_ret == 1u);
    CHECK(spec.linux_->seccomp->syscalls[1].args[0].value == 8);

    auto with = [&](auto edit) {
        json d = doc;
        edit(d["linux"]["seccomp"]);
        return error_of(d);
    };
    CHECK(with([](json& s) { s.erase("defaultAction"); }) == "linux.seccomp.defaultAction: required");
    CHECK(with([](json& s) { s["defaultAction"] = "SCMP_ACT_NOTIFY"; }) ==
          "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    CHECK(with([](json& s) { s["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY"; }) ==
          "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY");
    CHECK(with([](json& s) {
              s["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY";
              s["listenerPath"] = "relative.sock";
          }) == "linux.seccomp.listenerPath: must be an absolute path");
    CHECK(with([](json& s) { s["syscalls"][0]["action"] = "SCMP_ACT_BOGUS"; }) ==
          "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_BOGUS\"");
    CHECK(with([](json& s) { s["syscalls"][1]["args"][0]["op"] = "SCMP_CMP_XX"; }) ==
          "linux.seccomp.syscalls[1].args[0].op: unknown operator \"SCMP_CMP_XX\"");
    CHECK(with([](json& s) { s["syscalls"][1]["args"][0]["index"] = 6; }) ==
          "linux.seccomp.syscalls[1].args[0].index: must be less than 6");
    CHECK(with([](json& s) { s["syscalls"][0]["names"] = json::array(); }) ==
          "linux.seccomp.syscalls[0].names: must not be empty");
    CHECK(with([](json& s) { s["architectures"][1] = "SCMP_ARCH_VAX"; }) ==
          "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
    CHECK(with([](json& s) { s["flags"][0] = "BOGUS"; }) == "linux.seccomp.flags[0]: unknown flag \"BOGUS\"");
    CHECK(with([](json& s) {
              s["syscalls"][0]["names"] = {"read", ""};
          }) == "linux.seccomp.syscalls[0].names[1]: must not be empty");
    // errnoRet: the 16 bits of data of SCMP_ACT_ERRNO and SCMP_ACT_TRACE only.
    CHECK(with([](json& s) { s["syscalls"][0]["errnoRet"] = 1; }) ==
          "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
    CHECK(with([](json& s) { s["defaultErrnoRet"] = 70000; }) ==
          "linux.seccomp.defaultErrnoRet: 70000 is above 65535");
    CHECK(with([](json& s) {
              s["defaultAction"] = "SCMP_ACT_KILL";
              s["defaultErrnoRet"] = 1;
          }) == "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
    json traced = doc;
    traced["linux"]["seccomp"]["syscalls"][0] = {
        {"names", {"mkdir"}}, {"action", "SCMP_ACT_TRACE"}, {"errnoRet", 65535}};
    CHECK(parsed(traced).linux_->seccomp->syscalls[0].errno_ret == 65535u);
}

TEST_CASE("linux.resources.unified and rdma: file names and limits", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["resources"]["unified"] = {{"memory.high", "1048576"}, {"cgroup.max.depth", "3"}};
    doc["linux"]["resources"]["rdma"] = {{"mlx5_0", {{"hcaHandles", 2}, {"hcaObjects", 100}}}};
    auto spec = parsed(doc);
    CHECK(spec.linux_->resources->unified.at("memory.high") == "1048576");
    CHECK(spec.linux_->resources->rdma.at("mlx5_0").hca_objects == 100u);
    auto with = [](const std::string& key, json value) {
        auto d = base_spec();
        d["linux"]["resources"]["unified"] = {{key, value}};
        return error_of(d);
    };
    CHECK(with("../../memory.max", "1") ==
          "linux.resources.unified[\"../../memory.max\"]: must name a file in the container's cgroup, not a "
          "path");
    CHECK(with("memory", "1") ==
          "linux.resources.unified[\"memory\"]: expected CONTROLLER.FILE, such as memory.high");
    CHECK(with("cgroup.procs", "1") ==
          "linux.resources.unified[\"cgroup.procs\"]: only cgroup.max.depth and "
          "cgroup.max.descendants of the core files can be set");
    CHECK(with("memory.high", 5) == "linux.resources.unified[\"memory.high\"]: expected a string");
}

TEST_CASE("unimplemented fields are refused, empty ones tolerated", "[spec]") {
    struct Case {
        json::json_pointer where;
        json value;
        std::string message;
    };
    std::vector<Case> cases = {
        {"/linux/intelRdt"_json_pointer, {{"closID", "x"}}, "linux.intelRdt"},
        {"/linux/timeOffsets"_json_pointer, {{"monotonic", {{"secs", 1}}}}, "linux.timeOffsets"},
        {"/process/apparmorProfile"_json_pointer, "docker-default", "process.apparmorProfile"},
        {"/vm"_json_pointer, {{"hypervisor", {{"path", "/usr/bin/qemu"}}}}, "vm"},
    };
    for (const auto& c : cases) {
        auto doc = base_spec();
        doc[c.where] = c.value;
        CHECK(error_of(doc) == c.message + ": not supported yet");
        doc[c.where] = c.value.is_string() ? json("") : json::object();
        parsed(doc);
    }
}

TEST_CASE("linux.netDevices: interface names, once each in the container, and a network namespace",
          "[spec][netdevices]") {
    auto doc = base_spec();
    doc["linux"]["netDevices"] = {{"eth1", {{"name", "ctr1"}}}, {"eth2", json::object()}};
    auto spec = parsed(doc);
    REQUIRE(spec.linux_->net_devices.size() == 2);
    CHECK(spec.linux_->net_devices.at("eth1").name == "ctr1");
    CHECK(spec.linux_->net_devices.at("eth2").name.empty());
    CHECK(hutch::spec::container_net_device_name("eth2", spec.linux_->net_devices.at("eth2")) == "eth2");
    // Joined by path is a network namespace of its own too.
    for (auto& ns : doc["linux"]["namespaces"])
        if (ns["type"] == "network") ns["path"] = "/run/netns/x";
    parsed(doc);

    auto with = [](json devices) {
        auto d = base_spec();
        d["linux"]["netDevices"] = std::move(devices);
        return error_of(d);
    };
    const std::string rule =
        "is not an interface name (1 to 15 bytes, not \".\" or \"..\", no '/', ':', '%' or "
        "whitespace)";
    CHECK(with({{"eth/1", json::object()}}) == "linux.netDevices[\"eth/1\"]: \"eth/1\" " + rule);
    CHECK(with({{"..", json::object()}}) == "linux.netDevices[\"..\"]: \"..\" " + rule);
    CHECK(with({{"eth1", {{"name", "a b"}}}}) == "linux.netDevices[\"eth1\"].name: \"a b\" " + rule);
    CHECK(with({{"eth1", {{"name", "sixteen-bytes-xx"}}}}) ==
          "linux.netDevices[\"eth1\"].name: \"sixteen-bytes-xx\" " + rule);
    CHECK(with({{"eth1", {{"name", "ctr%d"}}}}).starts_with("linux.netDevices[\"eth1\"].name: "));
    CHECK(with({{"eth1", {{"name", 5}}}}) == "linux.netDevices[\"eth1\"].name: expected string");
    CHECK(with({{"eth1", "ctr1"}}) == "linux.netDevices[\"eth1\"]: expected object");
    CHECK(with({{"eth1", {{"name", "x"}}}, {"eth2", {{"name", "x"}}}}) ==
          "linux.netDevices[\"eth2\"]: another interface is also named \"x\" in the container");
    CHECK(with({{"eth1", json::object()}, {"eth2", {{"name", "eth1"}}}}) ==
          "linux.netDevices[\"eth2\"]: another interface is also named \"eth1\" in the container");
    CHECK(parsed(base_spec()).linux_->net_devices.empty());

    // Without a network namespace of its own, the interface would move from the runtime's
    // namespace to itself.
    doc = base_spec();
    doc["linux"]["netDevices"] = {{"eth1", {{"name", "ctr1"}}}};
    auto& namespaces = doc["linux"]["namespaces"];
    for (auto it = namespaces.begin(); it != namespaces.end();)
        it = (*it)["type"] == "network" ? namespaces.erase(it) : it + 1;
    CHECK(error_of(doc) == "linux.netDevices: needs a network namespace in linux.namespaces");
}

TEST_CASE("runtime-spec 1.2 kernel attributes: the kernel's values, and one line for bad ones", "[spec]") {
    auto doc = base_spec();
    doc["process"]["scheduler"] = {
        {"policy", "SCHED_FIFO"}, {"priority", 10}, {"flags", {"SCHED_FLAG_RESET_ON_FORK"}}};
    doc["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_IDLE"}, {"priority", 7}};
    doc["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0";
    doc["linux"]["personality"] = {{"domain", "LINUX32"}};
    doc["linux"]["memoryPolicy"] = {
        {"mode", "MPOL_BIND"}, {"nodes", "0-2,65"}, {"flags", {"MPOL_F_STATIC_NODES"}}};
    doc["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0";
    doc["process"]["execCPUAffinity"] = {{"initial", "0-1,64"}, {"final", "3"}};
    auto spec = parsed(doc);
    REQUIRE(spec.process.exec_cpu_affinity);
    CHECK(spec.process.exec_cpu_affinity->initial == std::vector<uint64_t>{0b11, 0b1});
    CHECK(spec.process.exec_cpu_affinity->final_cpus == std::vector<uint64_t>{0b1000});
    REQUIRE(spec.process.scheduler);
    CHECK(spec.process.scheduler->policy == 1);
    CHECK(spec.process.scheduler->priority == 10);
    CHECK(spec.process.scheduler->flags == 1);
    REQUIRE(spec.process.io_priority);
    CHECK(spec.process.io_priority->io_class == 3);
    CHECK(spec.process.io_priority->priority == 7);
    CHECK(spec.process.selinux_label == "system_u:system_r:container_t:s0");
    REQUIRE(spec.linux_->personality);
    CHECK(spec.linux_->personality->domain == 0x0008);
    REQUIRE(spec.linux_->memory_policy);
    CHECK(spec.linux_->memory_policy->mode == (2 | 1 << 15));
    CHECK(spec.linux_->memory_policy->nodes == std::vector<uint64_t>{0b111, 0b10});
    CHECK(spec.linux_->mount_label == "system_u:object_r:container_file_t:s0");

    struct Case {
        json::json_pointer where;
        json value;
        std::string message;
    };
    std::vector<Case> cases = {
        {"/process/scheduler"_json_pointer, {{"nice", 1}}, "process.scheduler.policy: required"},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_ISO"}},
         "process.scheduler.policy: unknown value \"SCHED_ISO\""},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_OTHER"}, {"nice", 20}},
         "process.scheduler.nice: must be between -20 and 19"},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_RR"}},
         "process.scheduler.priority: SCHED_FIFO and SCHED_RR need a priority between 1 and 99"},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_BATCH"}, {"period", 5}},
         "process.scheduler: runtime, deadline and period are for SCHED_DEADLINE only"},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_DEADLINE"}, {"runtime", 10}, {"deadline", 5}},
         "process.scheduler: SCHED_DEADLINE needs 0 < runtime <= deadline <= period"},
        {"/process/scheduler"_json_pointer,
         {{"policy", "SCHED_OTHER"}, {"flags", {"SCHED_FLAG_X"}}},
         "process.scheduler.flags[0]: unknown value \"SCHED_FLAG_X\""},
        {"/process/ioPriority"_json_pointer,
         {{"class", "IOPRIO_CLASS_BE"}, {"priority", 8}},
         "process.ioPriority.priority: must be between 0 and 7"},
        {"/process/ioPriority"_json_pointer,
         {{"class", "BE"}},
         "process.ioPriority.class: unknown value \"BE\""},
        {"/linux/personality"_json_pointer,
         {{"domain", "PER_BSD"}},
         "linux.personality.domain: unknown value \"PER_BSD\""},
        {"/linux/personality"_json_pointer,
         {{"domain", "LINUX"}, {"flags", {"X"}}},
         "linux.personality.flags: not supported yet"},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_DEFAULT"}, {"nodes", "0"}},
         "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes"},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_INTERLEAVE"}},
         "linux.memoryPolicy.nodes: MPOL_INTERLEAVE needs at least one node"},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_BIND"}, {"nodes", "3-1"}},
         "linux.memoryPolicy.nodes: \"3-1\" is not a node list such as \"0-3,7\""},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_BIND"}, {"nodes", "0,"}},
         "linux.memoryPolicy.nodes: \"0,\" is not a node list such as \"0-3,7\""},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_BIND"}, {"nodes", "1024"}},
         "linux.memoryPolicy.nodes: node 1024 is beyond Linux's 1024"},
        {"/process/execCPUAffinity"_json_pointer,
         {{"initial", "0-"}},
         "process.execCPUAffinity.initial: \"0-\" is not a CPU list such as \"0-3,7\""},
        {"/process/execCPUAffinity"_json_pointer,
         {{"final", "2048"}},
         "process.execCPUAffinity.final: CPU 2048 is beyond Linux's 1024"},
        {"/process/execCPUAffinity"_json_pointer,
         {{"final", 3}},
         "process.execCPUAffinity.final: expected string"},
        {"/linux/memoryPolicy"_json_pointer,
         {{"mode", "MPOL_BIND"}, {"nodes", "0"}, {"flags", {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"}}},
         "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"},
    };
    for (const auto& c : cases) {
        auto bad = base_spec();
        bad[c.where] = c.value;
        CHECK(error_of(bad) == c.message);
    }
    // Empty objects, as generators write them, are absent ones.
    auto empty = base_spec();
    empty["process"]["scheduler"] = json::object();
    empty["linux"]["memoryPolicy"] = json::object();
    CHECK_FALSE(parsed(empty).process.scheduler);
}

TEST_CASE("hooks", "[spec]") {
    auto doc = base_spec();
    doc["hooks"] = {
        {"prestart", {{{"path", "/bin/true"}}}},
        {"createRuntime", {{{"path", "/bin/a"}, {"args", {"a", "1"}}, {"env", {"X=1"}}, {"timeout", 5}}}},
        {"poststop", {{{"path", "/bin/b"}}, {{"path", "/bin/c"}}}}};
    auto spec = parsed(doc);
    CHECK(spec.hooks.prestart.size() == 1);
    REQUIRE(spec.hooks.create_runtime.size() == 1);
    CHECK(spec.hooks.create_runtime[0].timeout == 5);
    CHECK(spec.hooks.create_runtime[0].args == std::vector<std::string>{"a", "1"});
    CHECK(spec.hooks.poststop.size() == 2);
    doc["hooks"]["poststop"][1]["path"] = "bin/c";
    CHECK(error_of(doc) == "hooks.poststop[1].path: must be an absolute path");
    doc["hooks"]["poststop"][1]["path"] = "/bin/c";
    doc["hooks"]["createRuntime"][0]["timeout"] = 0;
    CHECK(error_of(doc) == "hooks.createRuntime[0].timeout: must be greater than zero");
}

TEST_CASE("resources parse into the model", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["resources"]["cpu"] = {{"shares", 1024}, {"quota", -1}, {"period", 100000}, {"cpus", "0-1"}};
    doc["linux"]["resources"]["pids"] = {{"limit", 100}};
    doc["linux"]["resources"]["blockIO"] = {
        {"weight", 500}, {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1048576}}}}};
    doc["linux"]["resources"]["hugepageLimits"] = {{{"pageSize", "2MB"}, {"limit", 0}}};
    doc["linux"]["resources"]["network"] = {{"classID", 1},
                                            {"priorities", {{{"name", "eth0"}, {"priority", 5}}}}};
    auto res = *parsed(doc).linux_->resources;
    CHECK(res.cpu->quota == -1);
    CHECK(res.cpu->cpus == "0-1");
    CHECK(res.pids_limit == 100);
    CHECK(res.block_io->throttle_read_bps[0].rate == 1048576u);
    CHECK(res.hugepage_limits[0].page_size == "2MB");
    CHECK(res.network->priorities[0].first == "eth0");
    doc["linux"]["resources"]["pids"] = json::object();
    CHECK(error_of(doc) == "linux.resources.pids.limit: required");
    doc["linux"]["resources"]["pids"] = {{"limit", 1}};
    doc["linux"]["resources"]["blockIO"]["weight"] = 70000;
    CHECK(error_of(doc) == "linux.resources.blockIO.weight: integer out of range [0, 65535]");
}

TEST_CASE("load_spec prefixes config.json", "[spec]") {
    char dir_template[] = "/tmp/hutch-spec-test-XXXXXX";
    REQUIRE(::mkdtemp(dir_template));
    std::string dir = dir_template;
    auto missing = hutch::spec::load_spec(dir);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.starts_with("config.json: "));
    CHECK(missing.error().code == ENOENT);

    std::ofstream(dir + "/config.json") << "{ not json";
    auto bad = hutch::spec::load_spec(dir);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.starts_with("config.json: invalid JSON: "));

    auto doc = base_spec();
    doc["process"]["args"] = json::array();
    std::ofstream(dir + "/config.json", std::ios::trunc) << doc.dump();
    CHECK(hutch::spec::load_spec(dir).error().message == "config.json: process.args: must not be empty");

    std::ofstream(dir + "/config.json", std::ios::trunc) << default_spec_json(false);
    CHECK(hutch::spec::load_spec(dir).has_value());
    std::remove((dir + "/config.json").c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("a zero weight or share is not set, as dockerd writes it and runc reads it", "[spec]") {
    auto doc = base_spec();
    doc["linux"]["resources"]["blockIO"] = {{"weight", 0}, {"leafWeight", 0}};
    doc["linux"]["resources"]["cpu"] = {{"shares", 0}};
    auto spec = parsed(doc);
    CHECK_FALSE(spec.linux_->resources->block_io->weight);
    CHECK_FALSE(spec.linux_->resources->block_io->leaf_weight);
    CHECK_FALSE(spec.linux_->resources->cpu->shares);
    doc["linux"]["resources"]["blockIO"]["weight"] = 500;
    CHECK(parsed(doc).linux_->resources->block_io->weight == 500);
}

TEST_CASE("parse_process_json reads a process as config.json's is read", "[spec]") {
    auto process = hutch::spec::parse_process_json(R"({"args": ["sh"], "cwd": "/tmp", "user": {"uid": 7}})");
    REQUIRE(process);
    CHECK(process->args == std::vector<std::string>{"sh"});
    CHECK(process->cwd == "/tmp");
    CHECK(process->user.uid == 7);
    CHECK(hutch::spec::parse_process_json(R"({"args": ["sh"], "cwd": "tmp"})").error().message ==
          "process.cwd: must be an absolute path");
    CHECK(hutch::spec::parse_process_json("{").error().message.starts_with("invalid JSON: "));
}
