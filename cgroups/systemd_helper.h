// Runs hutch-systemd, the helper that makes hutch-oci's D-Bus calls to systemd
// (systemd_protocol.h), so that hutch-oci itself never links or loads libsystemd. Internal to
// cgroups/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.h"
#include "cgroups/systemd_protocol.h"

namespace hutch::cgroups {

// The helper to run: $HUTCH_SYSTEMD_HELPER when set (tests); else hutch-systemd beside the running
// executable (/proc/self/exe), where `make install` puts it; else "hutch-systemd", looked up in PATH.
std::string systemd_helper_path();

// Runs `hutch-systemd VERB` with request on its stdin and returns its JSON answer; its one-line
// error when it fails. The helper is killed if it has not answered in the request's timeout
// plus 10 s (its own waits are bounded by the timeout).
ErrorOr<nlohmann::json> run_systemd_helper(std::string_view verb, const systemd::Request& request);

}  // namespace hutch::cgroups
