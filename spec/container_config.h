// config.json written, not read: what the `hutch` command turns an image and its flags into.
// The result is an ordinary OCI bundle config, started by the same runtime code as hutch-oci's
// bundles, so everything that config.json can say is parsed and checked in one place
// (spec/parse.cpp) whichever way it was made.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::spec {

// A bind mount of a host path (`-v HOST:CTR[:ro]`).
struct BindMount {
    std::string source;
    std::string destination;
    bool readonly = false;
};

enum class NetworkMode {
    none,  // a network namespace of its own, with only lo (podman's --network none)
    host,  // the host's network namespace
};

// What a container is to be: the process, its place, its limits. Empty or unset fields keep
// the defaults a podman user expects.
struct ContainerConfig {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::vector<uint32_t> additional_gids;
    bool terminal = false;
    std::string hostname;
    bool readonly_rootfs = false;
    std::vector<BindMount> binds;
    std::vector<std::string> tmpfs;    // destinations of tmpfs mounts (`--tmpfs /run`)
    std::vector<std::string> cap_add;  // "CAP_NET_ADMIN" or "NET_ADMIN", or "ALL"
    std::vector<std::string> cap_drop;
    bool no_new_privileges = false;
    std::optional<int64_t> memory_limit;  // bytes
    std::optional<int64_t> cpu_quota;     // microseconds per 100 ms period (`--cpus 1.5`: 150000)
    std::optional<int64_t> pids_limit;
    NetworkMode network = NetworkMode::none;
    std::map<std::string, std::string> annotations;
};

// The capabilities a container gets unless told otherwise: podman's default set.
const std::vector<std::string>& default_capabilities();

// The process's capabilities: podman's defaults, less --cap-drop, plus --cap-add (an unknown name
// is an error naming it); the bounding, effective and permitted sets alike, as podman's.
ErrorOr<Capabilities> container_capabilities(const ContainerConfig& config);

// The container's config.json text (rootfs "rootfs", beside it in the bundle). Capability names
// are checked here: an unknown one is an error naming it.
ErrorOr<std::string> container_config_json(const ContainerConfig& config);

}  // namespace hutch::spec
