#include "cgroups/stat_files.h"

#include <charconv>

namespace hutch::cgroups {
namespace {

constexpr std::string_view kSpace = " \t\n";

std::string_view trim(std::string_view text) {
    size_t start = text.find_first_not_of(kSpace);
    if (start == std::string_view::npos) return {};
    return text.substr(start, text.find_last_not_of(kSpace) - start + 1);
}

// The whole of word as a decimal number, or nothing.
std::optional<uint64_t> to_number(std::string_view word) {
    uint64_t value = 0;
    auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (error != std::errc() || end != word.data() + word.size()) return std::nullopt;
    return value;
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

ErrorOr<uint64_t> parse_counter(std::string_view text) {
    std::string_view word = trim(text);
    if (auto value = to_number(word)) return *value;
    return fail("expected a number, got " + quoted(word));
}

ErrorOr<uint64_t> parse_limit(std::string_view text, uint64_t unlimited) {
    if (trim(text) == "max") return unlimited;
    return parse_counter(text);
}

ErrorOr<std::vector<uint64_t>> parse_counter_list(std::string_view text) {
    std::vector<uint64_t> out;
    for (size_t pos = text.find_first_not_of(kSpace); pos != std::string_view::npos;
         pos = text.find_first_not_of(kSpace, pos)) {
        size_t end = std::min(text.find_first_of(kSpace, pos), text.size());
        out.push_back(TRY(parse_counter(text.substr(pos, end - pos))));
        pos = end;
    }
    return out;
}

ErrorOr<std::map<std::string, uint64_t>> parse_flat_keyed(std::string_view text) {
    std::map<std::string, uint64_t> out;
    size_t number = 0;
    for (size_t start = 0; start < text.size();) {
        size_t end = std::min(text.find('\n', start), text.size());
        std::string_view line = trim(text.substr(start, end - start));
        start = end + 1;
        ++number;
        if (line.empty()) continue;
        size_t space = line.find_first_of(" \t");
        auto value = space == std::string_view::npos ? std::nullopt : to_number(trim(line.substr(space)));
        if (!value)
            return fail("line " + std::to_string(number) + ": expected \"KEY VALUE\", got " + quoted(line));
        out[std::string(line.substr(0, space))] = *value;
    }
    return out;
}

std::string hugetlb_page_size(std::string_view name, std::string_view suffix) {
    constexpr std::string_view kPrefix = "hugetlb.";
    if (!name.starts_with(kPrefix) || name.size() <= kPrefix.size() + suffix.size() + 1) return "";
    if (!name.ends_with(suffix) || name[name.size() - suffix.size() - 1] != '.') return "";
    std::string_view size = name.substr(kPrefix.size(), name.size() - kPrefix.size() - suffix.size() - 1);
    if (size.empty() || size.find('.') != std::string_view::npos) return "";
    return std::string(size);
}

}  // namespace hutch::cgroups
