#include "base/duration.h"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>
#include <utility>

namespace hutch {
namespace {

// Longest names first, so that "ms" is not read as "m" followed by "s".
constexpr std::array<std::pair<std::string_view, double>, 8> kUnits = {{
    {"ns", 1.0},
    {"us", 1e3},
    {"\u00b5s", 1e3},  // micro sign
    {"\u03bcs", 1e3},  // Greek mu
    {"ms", 1e6},
    {"s", 1e9},
    {"m", 60e9},
    {"h", 3600e9},
}};

// The unit text starts with, and how many nanoseconds it is; 0 when none.
std::pair<size_t, double> read_unit(std::string_view text) {
    std::pair<size_t, double> best = {0, 0};
    for (const auto& [name, ns] : kUnits)
        if (name.size() > best.first && text.starts_with(name)) best = {name.size(), ns};
    return best;
}

std::unexpected<Error> invalid(std::string_view text, const std::string& why) {
    return fail("invalid duration \"" + std::string(text) + "\": " + why);
}

}  // namespace

ErrorOr<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
    std::string_view rest = text;
    bool negative = false;
    if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    if (rest == "0") return std::chrono::nanoseconds(0);
    if (rest.empty()) return invalid(text, "empty");
    double total = 0;
    while (!rest.empty()) {
        size_t length = 0;
        while (length < rest.size() &&
               (std::isdigit(static_cast<unsigned char>(rest[length])) || rest[length] == '.'))
            ++length;
        double number = 0;
        auto [end, error] = std::from_chars(rest.data(), rest.data() + length, number);
        if (length == 0 || error != std::errc() || end != rest.data() + length)
            return invalid(text, "expected a number");
        rest.remove_prefix(length);
        auto [unit_length, ns] = read_unit(rest);
        if (unit_length == 0) return invalid(text, "missing or unknown unit (ns, us, ms, s, m or h)");
        rest.remove_prefix(unit_length);
        total += number * ns;
    }
    if (!(total < static_cast<double>(std::numeric_limits<int64_t>::max()))) return invalid(text, "too long");
    auto ns = static_cast<int64_t>(total);
    return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace hutch
