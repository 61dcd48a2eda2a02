#include "cgroups/stat_readers.h"

#include <dirent.h>

#include <utility>
#include <vector>

#include "base/file.h"
#include "cgroups/stat_files.h"

namespace hutch::cgroups {

ErrorOr<std::optional<std::string>> read_if_offered(const std::string& dir, const std::string& file) {
    auto text = read_file(dir + "/" + file);
    if (!text && text.error().code == ENOENT) return std::nullopt;
    if (!text) return std::unexpected(text.error().context("cgroups: stats"));
    return std::optional<std::string>(std::move(*text));
}

ErrorOr<void> read_counter(const std::string& dir, const std::string& file, uint64_t& out) {
    return read_into(dir, file, out, [](const std::string& text) { return parse_counter(text); });
}

ErrorOr<void> read_limit(const std::string& dir, const std::string& file, uint64_t unlimited, uint64_t& out) {
    return read_into(dir, file, out, [&](const std::string& text) { return parse_limit(text, unlimited); });
}

ErrorOr<Counters> read_flat(const std::string& dir, const std::string& file) {
    Counters out;
    TRY(read_into(dir, file, out, [](const std::string& text) { return parse_flat_keyed(text); }));
    return out;
}

uint64_t value_of(const Counters& counters, const std::string& key) {
    auto it = counters.find(key);
    return it == counters.end() ? 0 : it->second;
}

ErrorOr<void> read_hugetlb(const std::string& dir, std::string_view suffix,
                           std::map<std::string, uint64_t>& out) {
    std::vector<std::pair<std::string, std::string>> files;  // page size, file name
    if (DIR* stream = ::opendir(dir.c_str())) {
        while (dirent* entry = ::readdir(stream)) {
            std::string size = hugetlb_page_size(entry->d_name, suffix);
            if (!size.empty()) files.emplace_back(size, entry->d_name);
        }
        ::closedir(stream);
    }
    for (const auto& [size, file] : files) TRY(read_counter(dir, file, out[size]));
    return {};
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kUnlimited - b ? kUnlimited : a + b; }

}  // namespace hutch::cgroups
