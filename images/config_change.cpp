#include "images/config_change.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace hutch::images {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

// The JSON form (a non-empty array of strings) or the shell form of CMD and ENTRYPOINT.
ErrorOr<std::vector<std::string>> command_of(std::string_view value) {
    if (!value.starts_with('[')) return std::vector<std::string>{"/bin/sh", "-c", std::string(value)};
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_array())
        return fail("'" + std::string(value) + "' is not a JSON array");
    std::vector<std::string> words;
    for (const auto& word : parsed) {
        if (!word.is_string()) return fail("'" + std::string(value) + "' holds a value that is not a string");
        words.push_back(word.get<std::string>());
    }
    return words;
}

// ENV NAME=VALUE, or the older ENV NAME VALUE: one NAME=VALUE, replacing the name's earlier value.
ErrorOr<void> set_env(nlohmann::ordered_json& run_config, std::string_view value) {
    std::string entry(value);
    size_t equals = entry.find('=');
    size_t space = entry.find_first_of(" \t");
    if (space != std::string::npos && (equals == std::string::npos || space < equals))
        entry = entry.substr(0, space) + "=" + std::string(trim(entry.substr(space)));
    equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos)
        return fail("'" + std::string(value) + "' is not NAME=VALUE");
    std::string prefix = entry.substr(0, equals + 1);
    auto& env = run_config["Env"];
    if (!env.is_array()) env = nlohmann::ordered_json::array();
    auto same = std::ranges::find_if(env, [&](const auto& e) {
        return e.is_string() && e.template get<std::string>().starts_with(prefix);
    });
    if (same != env.end())
        *same = entry;
    else
        env.push_back(entry);
    return {};
}

}  // namespace

ErrorOr<void> apply_config_change(nlohmann::ordered_json& run_config, std::string_view change) {
    change = trim(change);
    // "CMD [...]"; podman also takes "CMD=[...]".
    size_t end = change.find_first_of(" \t=");
    std::string instruction(change.substr(0, end));
    std::ranges::transform(instruction, instruction.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string_view value = end == std::string_view::npos ? "" : trim(change.substr(end + 1));
    std::string shown = "--change '" + std::string(change) + "'";
    if (value.empty()) return fail(shown + ": no value");
    if (instruction == "CMD" || instruction == "ENTRYPOINT") {
        run_config[instruction == "CMD" ? "Cmd" : "Entrypoint"] = TRY_CTX(command_of(value), shown);
    } else if (instruction == "ENV") {
        TRY_CTX(set_env(run_config, value), shown);
    } else if (instruction == "WORKDIR") {
        if (!value.starts_with('/')) return fail(shown + ": WORKDIR must be an absolute path");
        run_config["WorkingDir"] = std::string(value);
    } else if (instruction == "USER") {
        run_config["User"] = std::string(value);
    } else {
        return fail(shown + ": only CMD, ENTRYPOINT, ENV, WORKDIR and USER can be changed");
    }
    return {};
}

}  // namespace hutch::images
