#include "runtime/exec_process.h"

#include <charconv>

namespace hutch::runtime {
namespace {

using nlohmann::json;

ErrorOr<uint32_t> parse_id(std::string_view text, const std::string& flag_value) {
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return fail("--user: expected UID[:GID] as numbers, got \"" + flag_value + "\"");
    return id;
}

// NAME=VALUE entries replace the container's entry of the same NAME, else are appended.
void apply_env(json& env, const std::vector<std::string>& overrides) {
    if (!env.is_array()) env = json::array();
    for (const auto& entry : overrides) {
        std::string name = entry.substr(0, entry.find('='));
        auto same = std::find_if(env.begin(), env.end(), [&](const json& e) {
            return e.is_string() && e.get<std::string>().substr(0, e.get<std::string>().find('=')) == name;
        });
        if (same != env.end())
            *same = entry;
        else
            env.push_back(entry);
    }
}

ErrorOr<void> apply_user(json& process, const ExecOptions& o) {
    if (!o.user.empty()) {
        std::string_view text = o.user;
        size_t colon = text.find(':');
        process["user"]["uid"] = TRY(parse_id(text.substr(0, colon), o.user));
        process["user"]["gid"] =
            colon == std::string_view::npos ? 0u : TRY(parse_id(text.substr(colon + 1), o.user));
    }
    if (!o.additional_gids.empty()) process["user"]["additionalGids"] = o.additional_gids;
    return {};
}

// As runc: each --cap joins the bounding, effective and permitted sets, and the ambient set only
// when the process has inheritable capabilities (ambient ones must be inheritable too).
void apply_caps(json& process, const std::vector<std::string>& caps) {
    if (caps.empty()) return;
    json& sets = process["capabilities"];
    if (!sets.is_object()) sets = json::object();
    bool inheritable = sets.contains("inheritable") && sets["inheritable"].is_array();
    for (const char* set : {"bounding", "effective", "permitted", "ambient"}) {
        if (std::string(set) == "ambient" && !inheritable) continue;
        json& list = sets[set];
        if (!list.is_array()) list = json::array();
        for (const auto& cap : caps) list.push_back(cap);
    }
}

}  // namespace

ErrorOr<json> exec_process_json(const json& container_process, const ExecOptions& o) {
    if (o.args.empty()) return fail("exec: a command is required (arguments or --process)");
    json process = container_process.is_object() ? container_process : json::object();
    process["args"] = o.args;
    process["terminal"] = o.tty;
    apply_env(process["env"], o.env);
    if (!o.cwd.empty()) process["cwd"] = o.cwd;
    TRY(apply_user(process, o));
    apply_caps(process, o.caps);
    if (o.no_new_privs) process["noNewPrivileges"] = true;
    if (!o.apparmor.empty()) process["apparmorProfile"] = o.apparmor;
    if (!o.process_label.empty()) process["selinuxLabel"] = o.process_label;
    return process;
}

}  // namespace hutch::runtime
