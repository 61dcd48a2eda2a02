// The images/ shapes of base/json_reader.h's reads (that is where the rules live: null as absent,
// integers only, errors that name the field), plus the fields only images have: digests, keys.
#include "images/json_fields.h"

#include "base/json_reader.h"

namespace hutch::images::json_fields {

std::string path(const std::string& where, std::string_view key) {
    return hutch::json::field_path(where, key);
}

ErrorOr<nlohmann::json> parse_object(std::string_view text) {
    // allow_exceptions = false: a parse error gives a discarded value, never an exception.
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail("not valid JSON");
    if (!doc.is_object()) return fail("expected a JSON object");
    return doc;
}

ErrorOr<const nlohmann::json*> member(const nlohmann::json& obj, std::string_view key,
                                      const std::string& where, bool required) {
    const nlohmann::json* value = hutch::json::member(obj, key);
    if (!value && required) return fail(path(where, key) + ": required");
    return value;
}

namespace {

// A field read with base's conversion; its type's empty value when absent and not required.
template <typename T>
ErrorOr<T> field(const nlohmann::json& obj, std::string_view key, const std::string& where, bool required) {
    if (required) return hutch::json::require<T>(obj, where, key);
    T out{};
    TRY(hutch::json::read(obj, where, key, out));
    return out;
}

}  // namespace

ErrorOr<std::string> string_field(const nlohmann::json& obj, std::string_view key, const std::string& where,
                                  bool required) {
    return field<std::string>(obj, key, where, required);
}

ErrorOr<uint64_t> unsigned_field(const nlohmann::json& obj, std::string_view key, const std::string& where,
                                 bool required) {
    return field<uint64_t>(obj, key, where, required);
}

ErrorOr<Digest> digest_field(const nlohmann::json& obj, std::string_view key, const std::string& where) {
    auto text = TRY(string_field(obj, key, where, true));
    return TRY_CTX(parse_digest(text), path(where, key));
}

ErrorOr<std::vector<std::string>> string_array(const nlohmann::json& obj, std::string_view key,
                                               const std::string& where) {
    return field<std::vector<std::string>>(obj, key, where, false);
}

ErrorOr<std::map<std::string, std::string>> string_map(const nlohmann::json& obj, std::string_view key,
                                                       const std::string& where) {
    return field<hutch::json::StringMap>(obj, key, where, false);
}

ErrorOr<std::vector<std::string>> object_keys(const nlohmann::json& obj, std::string_view key,
                                              const std::string& where) {
    std::vector<std::string> keys;
    const nlohmann::json* value = hutch::json::member(obj, key);
    if (!value) return keys;
    TRY(hutch::json::expect_object(*value, path(where, key)));
    for (const auto& [name, item] : value->items()) keys.push_back(name);
    return keys;
}

}  // namespace hutch::images::json_fields
