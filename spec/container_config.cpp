// config.json for a container of the `hutch` command: runc's starter spec (spec/default_spec.cpp)
// with the image's process and the flags a podman user gives applied to it.
#include "spec/container_config.h"

#include <sys/capability.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "spec/spec.h"

namespace hutch::spec {
namespace {

using Json = nlohmann::ordered_json;

// "net_admin" and "NET_ADMIN" both mean CAP_NET_ADMIN, as podman's --cap-add takes them.
std::string capability_name(std::string name) {
    std::ranges::transform(name, name.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!name.starts_with("CAP_")) name = "CAP_" + name;
    return name;
}

std::vector<std::string> all_capabilities() {
    std::vector<std::string> names;
    for (cap_value_t cap = 0; cap_valid(cap); ++cap) {
        char* text = cap_to_name(cap);
        if (text == nullptr) continue;
        // libcap names a capability it knows in lower case, and one it does not by number.
        if (text[0] != '\0' && !std::isdigit(static_cast<unsigned char>(text[0])))
            names.push_back(capability_name(text));
        cap_free(text);
    }
    return names;
}

// docker's and podman's order: the defaults, less --cap-drop, plus --cap-add (so `--cap-drop ALL
// --cap-add KILL` is KILL alone); ALL in either stands for every capability libcap knows.
ErrorOr<std::vector<std::string>> capability_names(const ContainerConfig& config) {
    std::vector<std::string> caps = default_capabilities();
    for (const std::string& given : config.cap_drop) {
        std::string name = capability_name(given);
        if (name == "CAP_ALL") {
            caps.clear();
            continue;
        }
        if (!is_capability_name(name)) return fail("--cap-drop: unknown capability " + given);
        std::erase(caps, name);
    }
    for (const std::string& given : config.cap_add) {
        std::string name = capability_name(given);
        if (name == "CAP_ALL") {
            caps = all_capabilities();
            continue;
        }
        if (!is_capability_name(name)) return fail("--cap-add: unknown capability " + given);
        if (std::ranges::find(caps, name) == caps.end()) caps.push_back(name);
    }
    return caps;
}

Json capabilities_json(const Capabilities& caps) {
    return {{"bounding", caps.bounding}, {"effective", caps.effective}, {"permitted", caps.permitted}};
}

Json process(const ContainerConfig& config, const Capabilities& caps) {
    Json user = {{"uid", config.uid}, {"gid", config.gid}};
    if (!config.additional_gids.empty()) user["additionalGids"] = config.additional_gids;
    Json p = {
        {"terminal", config.terminal},
        {"user", user},
        {"args", config.args},
        {"env", config.env},
        {"cwd", config.cwd.empty() ? "/" : config.cwd},
        {"capabilities", capabilities_json(caps)},
        {"noNewPrivileges", config.no_new_privileges},
    };
    return p;
}

Json bind_mount(const BindMount& bind) {
    return {{"destination", bind.destination},
            {"type", "bind"},
            {"source", bind.source},
            {"options", Json::array({"rbind", bind.readonly ? "ro" : "rw"})}};
}

Json tmpfs_mount(const std::string& destination) {
    return {{"destination", destination},
            {"type", "tmpfs"},
            {"source", "tmpfs"},
            {"options", Json::array({"nosuid", "nodev", "mode=1777"})}};
}

// With the host's network, the container also needs the host's name servers and hosts file.
void use_host_network(Json& spec) {
    Json& namespaces = spec["linux"]["namespaces"];
    Json kept = Json::array();
    for (const Json& ns : namespaces)
        if (ns["type"] != "network") kept.push_back(ns);
    namespaces = kept;
    for (const char* file : {"/etc/resolv.conf", "/etc/hosts"})
        spec["mounts"].push_back(bind_mount({.source = file, .destination = file, .readonly = true}));
}

Json resources(const ContainerConfig& config) {
    Json r = {{"devices", Json::array({{{"allow", false}, {"access", "rwm"}}})}};
    if (config.memory_limit) r["memory"] = {{"limit", *config.memory_limit}};
    if (config.cpu_quota) r["cpu"] = {{"quota", *config.cpu_quota}, {"period", 100000}};
    if (config.pids_limit) r["pids"] = {{"limit", *config.pids_limit}};
    return r;
}

}  // namespace

const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FOWNER",
                                                  "CAP_FSETID",  "CAP_KILL",         "CAP_NET_BIND_SERVICE",
                                                  "CAP_SETFCAP", "CAP_SETGID",       "CAP_SETPCAP",
                                                  "CAP_SETUID",  "CAP_SYS_CHROOT"};
    return caps;
}

ErrorOr<Capabilities> container_capabilities(const ContainerConfig& config) {
    std::vector<std::string> names = TRY(capability_names(config));
    Capabilities caps;
    caps.bounding = caps.effective = caps.permitted = names;
    return caps;
}

ErrorOr<std::string> container_config_json(const ContainerConfig& config) {
    Json spec = default_spec(false);
    spec["process"] = process(config, TRY(container_capabilities(config)));
    spec["root"]["readonly"] = config.readonly_rootfs;
    if (!config.hostname.empty()) spec["hostname"] = config.hostname;
    for (const std::string& destination : config.tmpfs) spec["mounts"].push_back(tmpfs_mount(destination));
    for (const BindMount& bind : config.binds) spec["mounts"].push_back(bind_mount(bind));
    if (config.network == NetworkMode::host) use_host_network(spec);
    spec["linux"]["resources"] = resources(config);
    if (!config.annotations.empty()) spec["annotations"] = config.annotations;
    // JSON text is UTF-8: an argument, a variable or a path with other bytes cannot be written
    // into config.json (nlohmann says so by throwing, which stops here).
    try {
        return spec.dump(2);
    } catch (const nlohmann::json::type_error&) {
        return fail("config.json: a command, environment variable or path is not valid UTF-8");
    }
}

}  // namespace hutch::spec
