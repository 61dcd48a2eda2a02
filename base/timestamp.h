// The current time in RFC 3339, UTC, as runc writes it in state ("created") and in logs.
#pragma once

#include <string>

namespace hutch {

// "2026-11-25T10:30:00Z", or with nanoseconds "2026-11-25T10:30:00.123456789Z".
std::string rfc3339_now(bool with_nanoseconds);

}  // namespace hutch
