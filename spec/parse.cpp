// parse_spec() and load_spec(): config.json's top level (version, root, mounts, hooks, annotations),
// handing process and linux to their own files, then the checks that span sections.
#include <algorithm>
#include <array>
#include <cctype>
#include <exception>

#include "base/file.h"
#include "spec/parse_internal.h"

namespace hutch::spec {
namespace {

using json::Json;

// Every runtime-spec 1.x release is a superset of 1.0 for what hutch reads, so any "1.MINOR.PATCH"
// (with an optional -prerelease or +build suffix, as in runc's "1.0.2-dev") is accepted.
bool is_supported_version(const std::string& version) {
    size_t pos = 0;
    auto number = [&] {
        size_t start = pos;
        while (pos < version.size() && std::isdigit(static_cast<unsigned char>(version[pos]))) ++pos;
        return pos > start;
    };
    auto dot = [&] { return pos < version.size() && version[pos++] == '.'; };
    if (!version.starts_with("1.")) return false;
    pos = 2;
    if (!number() || !dot() || !number()) return false;
    return pos == version.size() || version[pos] == '-' || version[pos] == '+';
}

ErrorOr<std::string> parse_version(const Json& doc) {
    auto version = TRY(json::require<std::string>(doc, "", "ociVersion"));
    if (!is_supported_version(version)) {
        return fail("ociVersion: unsupported version \"" + version +
                    "\" (hutch implements runtime-spec 1.x)");
    }
    return version;
}

ErrorOr<Root> parse_root(const Json& doc) {
    const Json* value = json::member(doc, "root");
    if (!value) return fail("root: required");
    TRY(json::expect_object(*value, "root"));
    Root root;
    root.path = TRY(json::require<std::string>(*value, "root", "path"));
    if (root.path.empty()) return fail("root.path: must not be empty");
    TRY(json::read(*value, "root", "readonly", root.readonly));
    return root;
}

// idmap, ridmap and the mount's own mappings, as runc reads them: mappings without either option
// make it idmap. Only a bind can be idmapped (the clone is what mount_setattr maps), and a user
// namespace needs both maps.
ErrorOr<void> parse_idmap(const Json& value, Mount& mount, const std::string& path) {
    TRY(json::read_list(value, path, "uidMappings", mount.uid_mappings, detail::parse_id_mapping));
    TRY(json::read_list(value, path, "gidMappings", mount.gid_mappings, detail::parse_id_mapping));
    for (const std::string& option : mount.options) {
        mount.idmap |= option == "idmap" || option == "ridmap";
        mount.idmap_recursive |= option == "ridmap";
    }
    bool uids = !mount.uid_mappings.empty(), gids = !mount.gid_mappings.empty();
    mount.idmap |= uids || gids;
    if (!mount.idmap) return {};
    if (!mount.is_bind())
        return fail(path + ": idmapped mounts (idmap, ridmap, uidMappings) need a bind mount");
    if (uids && !gids) return fail(path + ".gidMappings: required with uidMappings");
    if (gids && !uids) return fail(path + ".uidMappings: required with gidMappings");
    return {};
}

ErrorOr<Mount> parse_mount(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Mount mount;
    mount.destination = TRY(json::require<std::string>(value, path, "destination"));
    if (mount.destination.empty()) return fail(path + ".destination: must be an absolute path");
    // runc 1.1 takes a relative destination as relative to the container's /; bundles rely on it.
    if (mount.destination[0] != '/') mount.destination.insert(0, "/");
    TRY(json::read(value, path, "type", mount.type));
    TRY(json::read(value, path, "source", mount.source));
    TRY(json::read(value, path, "options", mount.options));
    TRY(parse_idmap(value, mount, path));
    return mount;
}

ErrorOr<Hook> parse_hook(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Hook hook;
    hook.path = TRY(json::require<std::string>(value, path, "path"));
    TRY(detail::check_absolute(hook.path, path + ".path"));
    TRY(json::read(value, path, "args", hook.args));
    TRY(json::read(value, path, "env", hook.env));
    TRY(json::read(value, path, "timeout", hook.timeout));
    if (hook.timeout && *hook.timeout <= 0) return fail(path + ".timeout: must be greater than zero");
    return hook;
}

// Every kind of hook, by its config.json name: what parse_hooks() reads and `features` lists.
struct HookKind {
    const char* name;
    std::vector<Hook> Hooks::*list;
};
constexpr std::array<HookKind, 6> kHookKinds = {{
    {"prestart", &Hooks::prestart},
    {"createRuntime", &Hooks::create_runtime},
    {"createContainer", &Hooks::create_container},
    {"startContainer", &Hooks::start_container},
    {"poststart", &Hooks::poststart},
    {"poststop", &Hooks::poststop},
}};

// Hook kinds hutch does not know are tolerated, as any unknown field is.
ErrorOr<Hooks> parse_hooks(const Json& doc) {
    Hooks hooks;
    const Json* value = json::member(doc, "hooks");
    if (!value) return hooks;
    TRY(json::expect_object(*value, "hooks"));
    for (const HookKind& kind : kHookKinds)
        TRY(json::read_list(*value, "hooks", kind.name, hooks.*kind.list, parse_hook));
    return hooks;
}

ErrorOr<Spec> parse_document(const Json& doc) {
    if (!doc.is_object()) return fail("expected a JSON object at the top level");
    Spec spec;
    spec.oci_version = TRY(parse_version(doc));
    spec.root = TRY(parse_root(doc));
    const Json* process = json::member(doc, "process");
    if (!process) return fail("process: required");
    spec.process = TRY(detail::parse_process(*process, "process"));
    TRY(json::read(doc, "", "hostname", spec.hostname));
    TRY(json::read(doc, "", "domainname", spec.domainname));
    TRY(json::read_list(doc, "", "mounts", spec.mounts, parse_mount));
    spec.hooks = TRY(parse_hooks(doc));
    TRY(json::read(doc, "", "annotations", spec.annotations));
    if (const Json* linux_value = json::member(doc, "linux")) {
        spec.linux_ = TRY(detail::parse_linux(*linux_value, "linux"));
    }
    TRY(json::refuse_if_set(doc, "", "vm"));
    TRY(detail::validate_spec(spec));
    return spec;
}

// nlohmann's message minus its "[json.exception.parse_error.101] " tag, on one line.
std::string parser_message(const std::exception& e) {
    std::string message = e.what();
    if (message.starts_with("[json.exception.")) {
        if (size_t end = message.find("] "); end != std::string::npos) message.erase(0, end + 2);
    }
    for (char& c : message) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return message;
}

}  // namespace

ErrorOr<Spec> parse_spec(const std::string& json_text) {
    // Exceptions stop here: callers (and the child after clone) only ever see ErrorOr.
    try {
        return parse_document(Json::parse(json_text));
    } catch (const Json::parse_error& e) {
        return fail("invalid JSON: " + parser_message(e));
    } catch (const std::exception& e) {
        // Every read checks the type first, so this is out of memory or a bug in spec/.
        return fail("cannot read config: " + parser_message(e));
    }
}

ErrorOr<LoadedConfig> load_spec(const std::string& bundle_dir) {
    std::string text = TRY_CTX(read_file(bundle_dir + "/config.json"), "config.json");
    Spec spec = TRY_CTX(parse_spec(text), "config.json");
    return LoadedConfig{std::move(spec), std::move(text)};
}

ErrorOr<Resources> parse_resources_json(const std::string& json_text) {
    auto parse = [&]() -> ErrorOr<Resources> {
        try {
            Json doc = Json::parse(json_text);
            if (!doc.is_object()) return fail("expected a JSON object");
            return detail::parse_resources(doc, "");
        } catch (const Json::parse_error& e) {
            return fail("invalid JSON: " + parser_message(e));
        } catch (const std::exception& e) {
            return fail("cannot read resources: " + parser_message(e));
        }
    };
    return map_error(parse(), [](const Error& e) {
        // The section parsers name a field "PARENT.memory", so with no parent it starts with a dot.
        Error out = e.context("--resources");
        if (e.message.starts_with('.')) out.message.erase(std::string("--resources: ").size(), 1);
        return out;
    });
}

ErrorOr<Process> parse_process_json(const std::string& json_text) {
    Json doc;
    try {
        doc = Json::parse(json_text);
    } catch (const Json::parse_error& e) {
        return fail("invalid JSON: " + parser_message(e));
    }
    return parse_process_object(doc);
}

ErrorOr<Process> parse_process_object(const Json& value) {
    try {
        return detail::parse_process(value, "process");
    } catch (const std::exception& e) {
        return fail("cannot read process: " + parser_message(e));
    }
}

bool Mount::is_bind() const {
    if (type == "bind") return true;
    return std::ranges::any_of(options, [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

std::vector<std::string> hook_names() {
    std::vector<std::string> names;
    for (const HookKind& kind : kHookKinds) names.emplace_back(kind.name);
    return names;
}

namespace detail {

ErrorOr<void> check_absolute(const std::string& value, const std::string& path) {
    if (!value.starts_with('/')) return fail(path + ": must be an absolute path");
    return {};
}

ErrorOr<void> read_absolute_paths(const Json& object, const std::string& path, const char* key,
                                  std::vector<std::string>& out) {
    return json::read_list(object, path, key, out,
                           [](const Json& value, const std::string& item_path) -> ErrorOr<std::string> {
                               auto text = TRY(json::as_string(value, item_path));
                               TRY(check_absolute(text, item_path));
                               return text;
                           });
}

}  // namespace detail
}  // namespace hutch::spec
