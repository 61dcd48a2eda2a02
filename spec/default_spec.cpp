// The config.json that `hutch-oci spec` writes: runc's starter spec, field for field and in the
// same order, so that guides written for `runc spec` apply unchanged.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "spec/spec.h"

namespace hutch::spec {
namespace {

// Ordered, so the output lists fields in the spec's order as runc does, not alphabetically.
using Json = nlohmann::ordered_json;

Json capability_set() { return Json::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}); }

Json default_process() {
    return {
        {"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", Json::array({"sh"})},
        {"env",
         Json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"})},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", capability_set()}, {"effective", capability_set()}, {"permitted", capability_set()}}},
        {"rlimits", Json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
        {"noNewPrivileges", true},
    };
}

Json mount(const char* destination, const char* type, const char* source, std::vector<std::string> options) {
    Json m = {{"destination", destination}, {"type", type}, {"source", source}};
    if (!options.empty()) m["options"] = options;
    return m;
}

Json default_mounts() {
    return Json::array({
        mount("/proc", "proc", "proc", {}),
        mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        mount("/dev/pts", "devpts", "devpts",
              {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
        mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
        mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
    });
}

Json namespaces(std::initializer_list<const char*> types) {
    Json out = Json::array();
    for (const char* type : types) out.push_back({{"type", type}});
    return out;
}

Json default_linux() {
    return {
        {"resources", {{"devices", Json::array({{{"allow", false}, {"access", "rwm"}}})}}},
        // runc 1.1 adds cgroup only on a cgroup v2 host; hutch always does, as runc 1.2 does.
        {"namespaces", namespaces({"pid", "network", "ipc", "uts", "mount", "cgroup"})},
        {"maskedPaths", Json::array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                                     "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                     "/proc/sched_debug", "/sys/firmware", "/proc/scsi"})},
        {"readonlyPaths",
         Json::array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})},
    };
}

Json id_mapping(uint32_t host_id) {
    return Json::array({{{"containerID", 0}, {"hostID", host_id}, {"size", 1}}});
}

// An unprivileged user cannot mount sysfs outside a network namespace it owns, nor give devpts
// a gid it does not map, nor write cgroup limits: runc's rootless rewrite, step for step.
void make_rootless(Json& spec) {
    Json& linux_spec = spec["linux"];
    linux_spec.erase("resources");
    linux_spec["namespaces"] = namespaces({"pid", "ipc", "uts", "mount", "cgroup", "user"});
    // uid/gid mappings come first in the spec's order of linux fields.
    Json ordered = {{"uidMappings", id_mapping(::geteuid())}, {"gidMappings", id_mapping(::getegid())}};
    ordered.update(linux_spec);
    linux_spec = std::move(ordered);
    for (Json& m : spec["mounts"]) {
        if (m["destination"] == "/sys") {
            m = mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
        } else if (m.contains("options")) {
            Json kept = Json::array();
            for (const Json& option : m["options"]) {
                const auto& text = option.get_ref<const std::string&>();
                if (!text.starts_with("uid=") && !text.starts_with("gid=")) kept.push_back(option);
            }
            m["options"] = kept;
        }
    }
}

}  // namespace

nlohmann::ordered_json default_spec(bool rootless) {
    Json spec = {
        {"ociVersion", kOciVersion},
        {"process", default_process()},
        {"root", {{"path", "rootfs"}, {"readonly", true}}},
        {"hostname", "hutch"},
        {"mounts", default_mounts()},
        {"linux", default_linux()},
    };
    if (rootless) make_rootless(spec);
    return spec;
}

std::string default_spec_json(bool rootless) { return default_spec(rootless).dump(2); }

}  // namespace hutch::spec
