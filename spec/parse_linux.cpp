// config.json's "linux": namespaces, id mappings, devices, paths, sysctl; resources and seccomp
// have their own files.
#include <net/if.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

using json::Json;

constexpr std::array<std::string_view, 9> kPropagations = {
    "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};

ErrorOr<Namespace> parse_namespace(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    auto name = TRY(json::require<std::string>(value, path, "type"));
    auto type = namespace_type_from_name(name);
    if (!type) return fail(path + ".type: unknown namespace type \"" + name + "\"");
    Namespace ns{*type, {}};
    TRY(json::read(value, path, "path", ns.path));
    if (!ns.path.empty()) TRY(check_absolute(ns.path, path + ".path"));
    return ns;
}

// Two entries of one type would leave it unclear which namespace the container gets.
ErrorOr<std::vector<Namespace>> parse_namespaces(const Json& linux_value, const std::string& path) {
    std::vector<Namespace> namespaces;
    TRY(json::read_list(linux_value, path, "namespaces", namespaces, parse_namespace));
    std::set<NamespaceType> seen;
    for (size_t i = 0; i < namespaces.size(); ++i) {
        if (!seen.insert(namespaces[i].type).second) {
            return fail(json::index_path(path + ".namespaces", i) + ".type: duplicate namespace \"" +
                        namespace_name(namespaces[i].type) + "\"");
        }
    }
    return namespaces;
}

// The last component of a device's path, trailing slashes aside, is a name the node can have:
// not "/", "/dev/." or "/dev/..".
bool names_a_file(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    std::string_view name = path.substr(path.rfind('/') + 1);
    return !name.empty() && name != "." && name != "..";
}

ErrorOr<Device> parse_device(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Device device;
    device.type = TRY(json::require<std::string>(value, path, "type"));
    if (device.type != "c" && device.type != "b" && device.type != "u" && device.type != "p") {
        return fail(path + ".type: unknown device type \"" + device.type + "\" (expected c, b, u or p)");
    }
    device.path = TRY(json::require<std::string>(value, path, "path"));
    TRY(check_absolute(device.path, path + ".path"));
    if (!names_a_file(device.path)) return fail(path + ".path: \"" + device.path + "\" names no file");
    // A FIFO has no device number; every other type needs both halves.
    if (device.type == "p") {
        TRY(json::read(value, path, "major", device.major));
        TRY(json::read(value, path, "minor", device.minor));
    } else {
        device.major = TRY(json::require<int64_t>(value, path, "major"));
        device.minor = TRY(json::require<int64_t>(value, path, "minor"));
    }
    if (device.major < 0) return fail(path + ".major: must not be negative");
    if (device.minor < 0) return fail(path + ".minor: must not be negative");
    TRY(json::read(value, path, "fileMode", device.file_mode));
    TRY(json::read(value, path, "uid", device.uid));
    TRY(json::read(value, path, "gid", device.gid));
    return device;
}

ErrorOr<void> parse_paths(const Json& value, const std::string& path, Linux& linux_spec) {
    TRY(json::read(value, path, "cgroupsPath", linux_spec.cgroups_path));
    TRY(json::read(value, path, "rootfsPropagation", linux_spec.rootfs_propagation));
    if (std::find(kPropagations.begin(), kPropagations.end(), linux_spec.rootfs_propagation) ==
        kPropagations.end()) {
        return fail(path + ".rootfsPropagation: unknown propagation \"" + linux_spec.rootfs_propagation +
                    "\"");
    }
    TRY(read_absolute_paths(value, path, "maskedPaths", linux_spec.masked_paths));
    TRY(read_absolute_paths(value, path, "readonlyPaths", linux_spec.readonly_paths));
    return {};
}

// The kernel's rule (dev_valid_name): 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or
// whitespace. '%' too: the kernel would take it as a pattern and pick the name itself, and delete
// could then not find the interface to move it back.
bool is_interface_name(std::string_view name) {
    if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
    return std::ranges::none_of(name, [](char c) {
        return c == '/' || c == ':' || c == '%' || std::isspace(static_cast<unsigned char>(c));
    });
}

ErrorOr<void> check_interface_name(const std::string& name, const std::string& path) {
    if (is_interface_name(name)) return {};
    return fail(path + ": \"" + name +
                "\" is not an interface name (1 to 15 bytes, not \".\" or \"..\", no '/', ':', '%' or "
                "whitespace)");
}

// Two interfaces with one name in the container: the kernel would refuse the second move.
ErrorOr<std::map<std::string, NetDevice>> parse_net_devices(const Json& linux_value,
                                                            const std::string& parent) {
    std::map<std::string, NetDevice> devices;
    const Json* value = json::member(linux_value, "netDevices");
    if (!value) return devices;
    const std::string path = parent + ".netDevices";
    TRY(json::expect_object(*value, path));
    std::set<std::string> names_inside;
    for (const auto& [host_name, entry] : value->items()) {
        const std::string at = path + "[\"" + host_name + "\"]";
        TRY(check_interface_name(host_name, at));
        TRY(json::expect_object(entry, at));
        NetDevice device;
        TRY(json::read(entry, at, "name", device.name));
        if (!device.name.empty()) TRY(check_interface_name(device.name, at + ".name"));
        std::string inside = container_net_device_name(host_name, device);
        if (!names_inside.insert(inside).second)
            return fail(at + ": another interface is also named \"" + inside + "\" in the container");
        devices.emplace(host_name, std::move(device));
    }
    return devices;
}

// Fields of the spec that hutch does not implement: refused rather than silently ignored.
ErrorOr<void> refuse_unsupported(const Json& value, const std::string& path) {
    for (const char* key : {"intelRdt", "timeOffsets"}) {
        TRY(json::refuse_if_set(value, path, key));
    }
    return {};
}

}  // namespace

ErrorOr<IdMapping> parse_id_mapping(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    IdMapping mapping;
    mapping.container_id = TRY(json::require<uint32_t>(value, path, "containerID"));
    mapping.host_id = TRY(json::require<uint32_t>(value, path, "hostID"));
    mapping.size = TRY(json::require<uint32_t>(value, path, "size"));
    if (mapping.size == 0) return fail(path + ".size: must be greater than zero");
    return mapping;
}

ErrorOr<Linux> parse_linux(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    TRY(refuse_unsupported(value, path));
    Linux linux_spec;
    linux_spec.namespaces = TRY(parse_namespaces(value, path));
    TRY(json::read_list(value, path, "uidMappings", linux_spec.uid_mappings, parse_id_mapping));
    TRY(json::read_list(value, path, "gidMappings", linux_spec.gid_mappings, parse_id_mapping));
    TRY(json::read_list(value, path, "devices", linux_spec.devices, parse_device));
    TRY(parse_paths(value, path, linux_spec));
    TRY(json::read(value, path, "sysctl", linux_spec.sysctl));
    TRY(json::read(value, path, "mountLabel", linux_spec.mount_label));
    linux_spec.personality = TRY(parse_personality(value));
    linux_spec.memory_policy = TRY(parse_memory_policy(value));
    linux_spec.net_devices = TRY(parse_net_devices(value, path));
    if (const Json* resources = json::member(value, "resources")) {
        linux_spec.resources = TRY(parse_resources(*resources, path + ".resources"));
    }
    if (const Json* seccomp = json::member(value, "seccomp")) {
        linux_spec.seccomp = TRY(parse_seccomp(*seccomp, path + ".seccomp"));
    }
    return linux_spec;
}

}  // namespace hutch::spec::detail
