// hutch ps and inspect: the containers' records, as a table or as JSON.
#include <cstdio>

#include "base/json.h"
#include "cli/hutch/container_verbs.h"

namespace hutch::cli {
namespace {

std::string status_text(const ContainerRecord& r) {
    if (r.status == "running") return "Up since " + r.started_at.substr(0, 19);
    if (r.status == "exited") return "Exited (" + std::to_string(r.exit_code) + ")";
    if (r.status == "paused") return "Paused";
    return "Created";
}

std::string command_text(const std::vector<std::string>& command) {
    std::string text;
    for (const auto& word : command) text += (text.empty() ? "" : " ") + word;
    if (text.size() > 20) text = text.substr(0, 17) + "...";
    return "\"" + text + "\"";
}

}  // namespace

ErrorOr<void> list_containers(const Storage& storage, bool all, const std::string& format) {
    if (format != "table" && format != "json") return fail("--format: expected table or json, got " + format);
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    std::vector<ContainerRecord> shown;
    for (auto& r : TRY(store.list())) {
        if (all || r.status == "running" || r.status == "paused") shown.push_back(std::move(r));
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
        std::printf("%-12s  %-30s  %-22s  %-20s  %-27s  %s\n", r.id.substr(0, 12).c_str(), r.image.c_str(),
                    command_text(r.command).c_str(), r.created.substr(0, 19).c_str(), status_text(r).c_str(),
                    r.name.c_str());
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
