// `hutch import --change`: Dockerfile instructions that set the new image's run config, as
// docker import and podman import take them ("CMD [\"sh\"]", "ENV PATH=/bin", "WORKDIR /app").
// Only CMD, ENTRYPOINT, ENV, WORKDIR and USER so far; anything else is refused with its name.
// CMD and ENTRYPOINT take the JSON form (["sh", "-c", "x"]) or the shell form (sh -c x becomes
// ["/bin/sh", "-c", "sh -c x"]), as in a Dockerfile.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/error.h"

namespace hutch::images {

// Applies one instruction to run_config, the config's "config" object ("Cmd", "Env", ...).
ErrorOr<void> apply_config_change(nlohmann::ordered_json& run_config, std::string_view change);

}  // namespace hutch::images
