// The process `exec` runs, as config.json's "process" object: --process FILE as written, or the
// container's own process with exec's arguments and flags applied as runc applies them. The
// result is validated by the same parser as config.json (spec::parse_process_json).
#pragma once

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

// container_process: the "process" object of the config the container was created with.
ErrorOr<nlohmann::json> exec_process_json(const nlohmann::json& container_process,
                                          const ExecOptions& options);

}  // namespace hutch::runtime
