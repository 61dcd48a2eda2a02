#include "runtime/ps_table.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace hutch::runtime {
namespace {

std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

ErrorOr<size_t> pid_column(const std::string& header) {
    auto titles = fields(header);
    auto it = std::ranges::find(titles, "PID");
    if (it == titles.end()) return fail("ps: no PID column in ps's output (header \"" + header + "\")");
    return static_cast<size_t>(it - titles.begin());
}

}  // namespace

ErrorOr<std::string> filter_ps_table(const std::string& ps_output, const std::vector<pid_t>& pids) {
    std::istringstream lines(ps_output);
    std::string header;
    std::getline(lines, header);
    size_t column = TRY(pid_column(header));
    std::string out = header + "\n";
    for (std::string line; std::getline(lines, line);) {
        auto words = fields(line);
        if (words.empty()) continue;
        pid_t pid = 0;
        const std::string& word = column < words.size() ? words[column] : words.back();
        auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), pid);
        if (column >= words.size() || error != std::errc() || end != word.data() + word.size())
            return fail("ps: cannot read a pid in line \"" + line + "\"");
        if (std::ranges::find(pids, pid) != pids.end()) out += line + "\n";
    }
    return out;
}

}  // namespace hutch::runtime
