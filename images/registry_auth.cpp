#include "images/registry_auth.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/file.h"
#include "base/json.h"
#include "base/json_reader.h"
#include "images/json_fields.h"

namespace hutch::images {
namespace {

// An auth file larger than this is not one (real ones hold a few entries).
constexpr size_t kMaxAuthFile = 1 << 20;
// A token is a few KiB at most; a bigger one is refused rather than sent in every header.
constexpr size_t kMaxToken = 16 * 1024;

// Docker Hub is written under several names.
bool same_registry(const std::string& key_registry, const std::string& registry) {
    auto hub = [](const std::string& r) {
        return r == "docker.io" || r == "index.docker.io" || r == "registry-1.docker.io";
    };
    return key_registry == registry || (hub(key_registry) && hub(registry));
}

// The credentials of auths[key]. Errors name the entry, then the field in it ("auths.KEY: auth:
// not base64"): a key holds dots and colons, so it is not joined into one dotted path.
ErrorOr<Credentials> fields_of_entry(const json::Json& entry) {
    std::string auth;
    TRY(json::read(entry, "", "auth", auth));
    // An empty "auth" is what docker writes next to an identity token: fall back to the fields.
    if (!auth.empty()) {
        std::string decoded = TRY_CTX(base64_decode(auth), "auth");
        size_t colon = decoded.find(':');
        if (colon == std::string::npos) return fail("auth: not base64 of \"user:password\"");
        return Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
    }
    if (!json::member(entry, "username") && !json::member(entry, "password"))
        return fail("neither \"auth\" nor \"username\" and \"password\"");
    return Credentials{TRY(json::require<std::string>(entry, "", "username")),
                       TRY(json::require<std::string>(entry, "", "password"))};
}

ErrorOr<Credentials> credentials_of_entry(const json::Json& entry, const std::string& key) {
    std::string where = "auths." + key;
    TRY(json::expect_object(entry, where));
    return TRY_CTX(fields_of_entry(entry), where);
}

// The file's JSON, {} for an empty text; auths, when there, must be an object.
ErrorOr<json::Json> parse_auth_json(std::string_view json_text) {
    if (json_text.empty()) return json::Json::object();
    auto doc = TRY(json_fields::parse_object(json_text));
    if (const json::Json* auths = json::member(doc, "auths")) TRY(json::expect_object(*auths, "auths"));
    return doc;
}

// The file's text, "" when it is not there yet.
ErrorOr<std::string> read_auth_file(const std::string& auth_file) {
    struct stat st {};
    if (stat(auth_file.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::string();
        return fail_errno(auth_file);
    }
    if (static_cast<size_t>(st.st_size) > kMaxAuthFile) return fail(auth_file + ": larger than 1 MiB");
    return read_file(auth_file);
}

ErrorOr<void> make_parent_dir(const std::string& auth_file) {
    size_t slash = auth_file.rfind('/');
    if (slash == std::string::npos || slash == 0) return {};
    std::string dir = auth_file.substr(0, slash);
    // Two levels at most: /run/containers/0 under an existing /run, as podman makes it.
    if (size_t up = dir.rfind('/'); up != std::string::npos && up > 0) {
        std::string parent = dir.substr(0, up);
        if (mkdir(parent.c_str(), 0711) == -1 && errno != EEXIST) return fail_errno("mkdir " + parent);
    }
    if (mkdir(dir.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + dir);
    return {};
}

}  // namespace

std::string default_auth_file() {
    if (const char* file = getenv("REGISTRY_AUTH_FILE"); file && *file) return file;
    if (geteuid() != 0) {
        if (const char* runtime = getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
            return std::string(runtime) + "/containers/auth.json";
    }
    return "/run/containers/" + std::to_string(geteuid()) + "/auth.json";
}

std::string registry_of_auth_key(std::string_view key) {
    if (size_t scheme = key.find("://"); scheme != std::string_view::npos) key = key.substr(scheme + 3);
    if (size_t slash = key.find('/'); slash != std::string_view::npos) key = key.substr(0, slash);
    return std::string(key);
}

ErrorOr<std::string> auth_json_with(std::string_view json_text, const std::string& registry,
                                    const Credentials& credentials) {
    auto json = TRY(parse_auth_json(json_text));
    // One entry per registry: another spelling of the same one would shadow or be shadowed.
    if (json.contains("auths")) {
        auto& auths = json["auths"];
        for (auto it = auths.begin(); it != auths.end();)
            it = same_registry(registry_of_auth_key(it.key()), registry) ? auths.erase(it) : std::next(it);
    }
    json["auths"][registry] = {{"auth", base64_encode(credentials.username + ":" + credentials.password)}};
    return hutch::json_text(json, 4);
}

ErrorOr<std::string> auth_json_without(std::string_view json_text, const std::string& registry) {
    auto json = TRY(parse_auth_json(json_text));
    bool removed = false;
    if (json.contains("auths")) {
        auto& auths = json["auths"];
        for (auto it = auths.begin(); it != auths.end();) {
            bool same = same_registry(registry_of_auth_key(it.key()), registry);
            removed |= same;
            it = same ? auths.erase(it) : std::next(it);
        }
    }
    if (!removed) return fail("not logged in to " + registry);
    return hutch::json_text(json, 4);
}

ErrorOr<void> save_credentials(const std::string& auth_file, const std::string& registry,
                               const Credentials& credentials) {
    auto text = TRY(read_auth_file(auth_file));
    auto updated = TRY_CTX(auth_json_with(text, registry, credentials), auth_file);
    TRY(make_parent_dir(auth_file));
    return write_file_atomic(auth_file, updated);
}

ErrorOr<void> remove_credentials(const std::string& auth_file, const std::string& registry) {
    auto text = TRY(read_auth_file(auth_file));
    auto updated = TRY_CTX(auth_json_without(text, registry), auth_file);
    return write_file_atomic(auth_file, updated);
}

std::string base64_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

ErrorOr<std::string> base64_decode(std::string_view text) {
    // EVP_DecodeBlock skips leading and trailing blanks but not inner ones, wants whole quads,
    // and counts padding as zero bytes: check the shape first, then drop the padding's bytes.
    if (text.size() % 4 != 0) return fail("not base64 (length not a multiple of 4)");
    if (text.size() > kMaxAuthFile) return fail("not base64 (too long)");
    size_t padding = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '+' || c == '/';
        if (c == '=' && i + 2 >= text.size()) {
            ++padding;
            continue;
        }
        if (!alphabet || padding > 0) return fail("not base64");
    }
    std::string out(3 * (text.size() / 4) + 1, '\0');
    int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0 || static_cast<size_t>(n) < padding) return fail("not base64");
    out.resize(static_cast<size_t>(n) - padding);
    return out;
}

ErrorOr<std::optional<Credentials>> credentials_from_auth_json(std::string_view json_text,
                                                               const std::string& registry) {
    auto doc = TRY(parse_auth_json(json_text));
    const json::Json* auths = json::member(doc, "auths");
    if (!auths) return std::optional<Credentials>();
    // An exact key wins over one that names the same registry another way.
    if (const json::Json* exact = json::member(*auths, registry))
        return std::optional(TRY(credentials_of_entry(*exact, registry)));
    for (const auto& [key, entry] : auths->items()) {
        if (entry.is_null()) continue;  // as absent, json_reader's rule
        if (same_registry(registry_of_auth_key(key), registry))
            return std::optional(TRY(credentials_of_entry(entry, key)));
    }
    return std::optional<Credentials>();
}

ErrorOr<std::optional<Credentials>> load_credentials(const std::string& auth_file,
                                                     const std::string& registry) {
    std::string text = TRY(read_file(auth_file));
    if (text.size() > kMaxAuthFile) return fail(auth_file + ": larger than 1 MiB");
    return map_error(credentials_from_auth_json(text, registry),
                     [&](const Error& e) { return e.context(auth_file); });
}

std::string basic_authorization(const Credentials& credentials) {
    return "Basic " + base64_encode(credentials.username + ":" + credentials.password);
}

ErrorOr<std::string> token_from_json(std::string_view json_text) {
    auto answer = [&]() -> ErrorOr<std::string> {
        auto doc = TRY(json_fields::parse_object(json_text));
        for (const char* field : {"token", "access_token"}) {
            std::string token;
            TRY(json::read(doc, "", field, token));
            if (token.empty()) continue;
            if (token.size() > kMaxToken) return fail(std::string(field) + ": longer than 16 KiB");
            // It goes into a header line: a byte that could end or split the line is refused.
            for (char c : token)
                if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) == 0x7f)
                    return fail(std::string(field) + ": holds a control character or blank");
            return token;
        }
        return fail("no \"token\" or \"access_token\"");
    };
    return map_error(answer(), [](const Error& e) { return e.context("token answer"); });
}

}  // namespace hutch::images
