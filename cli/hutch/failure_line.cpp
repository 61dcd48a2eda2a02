// Failures shown as the `hutch` command shows them (failure_line.h).
#include "cli/hutch/failure_line.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace hutch::cli {

void print_failure_line(std::string message) {
    std::ranges::replace(message, '\n', ' ');
    std::fprintf(stderr, "hutch: %s\n", message.c_str());
}

ErrorOr<void> for_each_name(const std::vector<std::string>& names,
                            const std::function<ErrorOr<void>(const std::string&)>& act) {
    std::optional<Error> last;
    for (const auto& name : names) {
        auto done = act(name);
        if (done) continue;
        if (last) print_failure_line(last->message);
        last = done.error();
    }
    if (last) return std::unexpected(*last);
    return {};
}

}  // namespace hutch::cli
