// Namespace names as config.json spells them, and lookups the runtime shares.
#include <array>
#include <utility>

#include "spec/spec.h"

namespace hutch::spec {
namespace {

constexpr std::array<std::pair<NamespaceType, const char*>, 8> kNamespaceNames = {{
    {NamespaceType::pid, "pid"},
    {NamespaceType::network, "network"},
    {NamespaceType::mount, "mount"},
    {NamespaceType::ipc, "ipc"},
    {NamespaceType::uts, "uts"},
    {NamespaceType::user, "user"},
    {NamespaceType::cgroup, "cgroup"},
    {NamespaceType::time, "time"},
}};

}  // namespace

const char* namespace_name(NamespaceType type) {
    for (const auto& [t, name] : kNamespaceNames) {
        if (t == type) return name;
    }
    return "unknown";
}

std::optional<NamespaceType> namespace_type_from_name(std::string_view name) {
    for (const auto& [type, n] : kNamespaceNames) {
        if (name == n) return type;
    }
    return std::nullopt;
}

const Namespace* find_namespace(const Spec& spec, NamespaceType type) {
    if (!spec.linux_) return nullptr;
    for (const Namespace& ns : spec.linux_->namespaces) {
        if (ns.type == type) return &ns;
    }
    return nullptr;
}

bool has_namespace(const Spec& spec, NamespaceType type) { return find_namespace(spec, type) != nullptr; }

std::string container_net_device_name(const std::string& host_name, const NetDevice& device) {
    return device.name.empty() ? host_name : device.name;
}

std::vector<std::string> namespace_names() {
    std::vector<std::string> names;
    for (const auto& [type, name] : kNamespaceNames) names.emplace_back(name);
    return names;
}

}  // namespace hutch::spec
