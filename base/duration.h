// Durations as Go writes them ("5s", "500ms", "1m30s", "1.5h"): runc's flags take them so
// (`events --interval`), and so must a drop-in replacement.
#pragma once

#include <chrono>
#include <string_view>

#include "base/error.h"

namespace hutch {

// Go's time.ParseDuration: an optional sign, then one or more decimal numbers (fractions allowed),
// each with a unit: ns, us (or µs), ms, s, m, h. "0" alone needs no unit.
ErrorOr<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace hutch
