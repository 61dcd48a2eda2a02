// OCI hooks: each one is run with the container's state on its stdin, its own args and env, and
// an optional timeout; its output is kept for the error message when it fails.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::runtime {

// Where hooks run, and what a hook without an `env` of its own gets: what runc gives its hooks.
struct HookSetting {
    std::string cwd{};                              // "" : the runtime's own working directory
    const std::vector<std::string>* env = nullptr;  // nullptr : the runtime's own environment
};

// Runs hooks in order, stopping at the first failure ("prestart hook /bin/x: exit status 3: ...").
ErrorOr<void> run_hooks(const std::string& kind, const std::vector<spec::Hook>& hooks,
                        const std::string& state_json, const HookSetting& setting);

// poststart and poststop: the runtime-spec makes their failures warnings, so each one is logged
// as a warning and the hooks after it still run.
void run_hooks_warning(const std::string& kind, const std::vector<spec::Hook>& hooks,
                       const std::string& state_json, const HookSetting& setting);

nlohmann::json hook_to_json(const spec::Hook& hook);
spec::Hook hook_from_json(const nlohmann::json& j);

}  // namespace hutch::runtime
