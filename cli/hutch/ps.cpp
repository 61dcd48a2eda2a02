// hutch ps and inspect: the containers' records, as a table or as JSON.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "base/json.h"
#include "cli/hutch/container_verbs.h"

namespace hutch::cli {
namespace {

// "2026-11-30T08:02:19.123Z" -> seconds since the epoch; -1 when it is not such a time.
time_t parse_time(const std::string& rfc3339) {
    std::tm tm{};
    if (rfc3339.size() < 19 || ::strptime(rfc3339.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr)
        return -1;
    return ::timegm(&tm);
}

// docker's wording: "5 seconds", "3 minutes", "2 hours", "4 days".
std::string duration_since(const std::string& rfc3339) {
    time_t then = parse_time(rfc3339);
    if (then < 0) return "?";
    long seconds = std::max<long>(0, static_cast<long>(std::time(nullptr) - then));
    auto words = [](long n, const char* unit) {
        return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
    };
    if (seconds < 60) return words(seconds, "second");
    if (seconds < 3600) return words(seconds / 60, "minute");
    if (seconds < 86400) return words(seconds / 3600, "hour");
    return words(seconds / 86400, "day");
}

std::string status_text(const ContainerRecord& r) {
    switch (r.status) {
        case ContainerStatus::created: return "Created";
        case ContainerStatus::starting: return "Starting";
        case ContainerStatus::running: return "Up " + duration_since(r.started_at);
        case ContainerStatus::paused: return "Paused";
        case ContainerStatus::exited:
            return "Exited (" + std::to_string(r.exit_code) + ") " + duration_since(r.finished_at) + " ago";
        case ContainerStatus::unknown: break;
    }
    return "Unknown (unreadable record)";
}

std::string shortened(const std::string& text, size_t width) {
    return text.size() > width ? text.substr(0, width - 3) + "..." : text;
}

std::string command_text(const std::vector<std::string>& command) {
    std::string text;
    for (const auto& word : command) text += (text.empty() ? "" : " ") + word;
    return "\"" + shortened(text, 20) + "\"";
}

}  // namespace

ErrorOr<void> list_containers(const Storage& storage, const ListOptions& options) {
    const std::string& format = options.format;
    if (format != "table" && format != "json") return fail("--format: expected table or json, got " + format);
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    std::vector<ContainerRecord> shown;
    for (auto& r : TRY(store.list())) {
        if (options.all || is_up(r.status)) shown.push_back(std::move(r));
    }
    if (options.quiet) {
        for (const auto& r : shown) std::printf("%s\n", r.id.substr(0, 12).c_str());
        return {};
    }
    if (format == "json") {
        auto array = nlohmann::json::array();
        for (const auto& r : shown) array.push_back(record_json(r));
        std::printf("%s\n", json_text(array).c_str());
        return {};
    }
    std::printf("%-12s  %-30s  %-22s  %-20s  %-27s  %s\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                "STATUS", "NAMES");
    for (const auto& r : shown)
        std::printf("%-12s  %-30s  %-22s  %-20s  %-27s  %s\n", r.id.substr(0, 12).c_str(),
                    shortened(r.image, 30).c_str(), command_text(r.command).c_str(),
                    (duration_since(r.created) + " ago").c_str(), status_text(r).c_str(), r.name.c_str());
    return {};
}

ErrorOr<void> inspect_containers(const Storage& storage, const std::vector<std::string>& names) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto array = nlohmann::json::array();
    for (const auto& name : names) array.push_back(record_json(TRY(store.find(name))));
    std::printf("%s\n", json_text(array, 4).c_str());
    return {};
}

}  // namespace hutch::cli
