// OCI hooks: each one is run with the container's state on its stdin, its own args and env, and
// an optional timeout; its output is kept for the error message when it fails.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::runtime {

// Runs hooks in order, stopping at the first failure ("prestart hook /bin/x: exit status 3: ...").
ErrorOr<void> run_hooks(const std::string& kind, const std::vector<spec::Hook>& hooks,
                        const std::string& state_json);

nlohmann::json hook_to_json(const spec::Hook& hook);
spec::Hook hook_from_json(const nlohmann::json& j);

}  // namespace hutch::runtime
