// config.json's "process": the user, arguments, environment, capabilities and rlimits of the
// container's first process.
#include <sys/capability.h>

#include <algorithm>
#include <array>
#include <set>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

using json::Json;

constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_AS",      "RLIMIT_CORE",     "RLIMIT_CPU",        "RLIMIT_DATA",   "RLIMIT_FSIZE", "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",       "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
    "RLIMIT_RTPRIO",  "RLIMIT_RTTIME",   "RLIMIT_SIGPENDING", "RLIMIT_STACK"};

// Strings end up in execve() and friends as C strings: an embedded NUL would silently cut them.
ErrorOr<void> check_no_nul(const std::vector<std::string>& values, const std::string& path) {
    for (size_t i = 0; i < values.size(); ++i) {
        if (values[i].find('\0') != std::string::npos) {
            return fail(json::index_path(path, i) + ": must not contain a NUL byte");
        }
    }
    return {};
}

ErrorOr<void> check_env(const std::vector<std::string>& env) {
    TRY(check_no_nul(env, "process.env"));
    for (size_t i = 0; i < env.size(); ++i) {
        size_t eq = env[i].find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(json::index_path("process.env", i) + ": expected NAME=VALUE");
        }
    }
    return {};
}

ErrorOr<User> parse_user(const Json& process) {
    User user;
    const Json* value = json::member(process, "user");
    if (!value) return user;
    TRY(json::expect_object(*value, "process.user"));
    TRY(json::read(*value, "process.user", "uid", user.uid));
    TRY(json::read(*value, "process.user", "gid", user.gid));
    TRY(json::read(*value, "process.user", "umask", user.umask));
    TRY(json::read(*value, "process.user", "additionalGids", user.additional_gids));
    return user;
}

ErrorOr<std::optional<ConsoleSize>> parse_console_size(const Json& process) {
    const Json* value = json::member(process, "consoleSize");
    if (!value) return std::nullopt;
    TRY(json::expect_object(*value, "process.consoleSize"));
    ConsoleSize size;
    size.height = TRY(json::require<unsigned>(*value, "process.consoleSize", "height"));
    size.width = TRY(json::require<unsigned>(*value, "process.consoleSize", "width"));
    return size;
}

ErrorOr<std::vector<std::string>> read_capability_set(const Json& value, const std::string& path,
                                                      const char* key) {
    std::vector<std::string> names;
    TRY(json::read(value, path, key, names));
    for (size_t i = 0; i < names.size(); ++i) {
        if (!is_capability_name(names[i])) {
            return fail(json::index_path(json::field_path(path, key), i) + ": unknown capability \"" +
                        names[i] + "\"");
        }
    }
    return names;
}

ErrorOr<std::optional<Capabilities>> parse_capabilities(const Json& process) {
    const Json* value = json::member(process, "capabilities");
    if (!value) return std::nullopt;
    const std::string path = "process.capabilities";
    TRY(json::expect_object(*value, path));
    Capabilities caps;
    caps.bounding = TRY(read_capability_set(*value, path, "bounding"));
    caps.effective = TRY(read_capability_set(*value, path, "effective"));
    caps.inheritable = TRY(read_capability_set(*value, path, "inheritable"));
    caps.permitted = TRY(read_capability_set(*value, path, "permitted"));
    caps.ambient = TRY(read_capability_set(*value, path, "ambient"));
    // The kernel refuses an effective capability that is not permitted (capset): said here, where
    // the field is named. Ambient ones outside permitted and inheritable are not refused: runc's own
    // default config has some, and the runtime skips them as runc does.
    std::string outside;
    for (const auto& name : caps.effective) {
        if (std::ranges::find(caps.permitted, name) == caps.permitted.end())
            outside += (outside.empty() ? "" : ", ") + name;
    }
    if (!outside.empty()) return fail(path + ".effective: " + outside + " not in " + path + ".permitted");
    return caps;
}

ErrorOr<Rlimit> parse_rlimit(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Rlimit rlimit;
    rlimit.type = TRY(json::require<std::string>(value, path, "type"));
    if (std::find(kRlimits.begin(), kRlimits.end(), rlimit.type) == kRlimits.end()) {
        return fail(path + ".type: unknown rlimit \"" + rlimit.type + "\"");
    }
    rlimit.soft = TRY(json::require<uint64_t>(value, path, "soft"));
    rlimit.hard = TRY(json::require<uint64_t>(value, path, "hard"));
    if (rlimit.soft > rlimit.hard) {
        return fail(path + ": soft limit " + std::to_string(rlimit.soft) + " is greater than hard limit " +
                    std::to_string(rlimit.hard));
    }
    return rlimit;
}

// The spec requires each rlimit type at most once: setrlimit would apply only the last.
ErrorOr<std::vector<Rlimit>> parse_rlimits(const Json& process) {
    std::vector<Rlimit> rlimits;
    TRY(json::read_list(process, "process", "rlimits", rlimits, parse_rlimit));
    std::set<std::string> seen;
    for (size_t i = 0; i < rlimits.size(); ++i) {
        if (!seen.insert(rlimits[i].type).second) {
            return fail(json::index_path("process.rlimits", i) + ".type: duplicate rlimit \"" +
                        rlimits[i].type + "\"");
        }
    }
    return rlimits;
}

ErrorOr<void> parse_command(const Json& value, Process& process) {
    process.args = TRY(json::require<std::vector<std::string>>(value, "process", "args"));
    if (process.args.empty()) return fail("process.args: must not be empty");
    TRY(check_no_nul(process.args, "process.args"));
    TRY(json::read(value, "process", "env", process.env));
    TRY(check_env(process.env));
    process.cwd = TRY(json::require<std::string>(value, "process", "cwd"));
    TRY(check_absolute(process.cwd, "process.cwd"));
    return {};
}

// Fields of the spec that hutch does not implement: refused rather than silently ignored.
ErrorOr<void> refuse_unsupported(const Json& value) {
    return json::refuse_if_set(value, "process", "apparmorProfile");
}

}  // namespace

ErrorOr<Process> parse_process(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    TRY(refuse_unsupported(value));
    Process process;
    TRY(json::read(value, path, "terminal", process.terminal));
    process.console_size = TRY(parse_console_size(value));
    process.user = TRY(parse_user(value));
    TRY(parse_command(value, process));
    process.capabilities = TRY(parse_capabilities(value));
    process.rlimits = TRY(parse_rlimits(value));
    TRY(json::read(value, path, "noNewPrivileges", process.no_new_privileges));
    process.scheduler = TRY(parse_scheduler(value));
    process.io_priority = TRY(parse_io_priority(value));
    process.exec_cpu_affinity = TRY(parse_exec_cpu_affinity(value));
    TRY(json::read(value, path, "selinuxLabel", process.selinux_label));
    TRY(json::read(value, path, "oomScoreAdj", process.oom_score_adj));
    if (process.oom_score_adj && (*process.oom_score_adj < -1000 || *process.oom_score_adj > 1000)) {
        return fail(path + ".oomScoreAdj: must be between -1000 and 1000");
    }
    return process;
}

}  // namespace hutch::spec::detail

namespace hutch::spec {

// libcap knows the names; the spec spells them upper case with the CAP_ prefix, and libcap would
// also take "cap_chown" or "12", which no other runtime accepts.
bool is_capability_name(const std::string& name) {
    if (!name.starts_with("CAP_")) return false;
    if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; })) return false;
    cap_value_t value;
    return cap_from_name(name.c_str(), &value) == 0;
}

}  // namespace hutch::spec
