#include "images/json_fields.h"

namespace hutch::images::json_fields {

std::string path(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
}

ErrorOr<json> parse_object(std::string_view text) {
    // allow_exceptions = false: a parse error gives a discarded value, never an exception.
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail("not valid JSON");
    if (!doc.is_object()) return fail("expected a JSON object");
    return doc;
}

ErrorOr<const json*> member(const json& obj, std::string_view key, const std::string& where, bool required) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (required) return fail(path(where, key) + ": missing");
        return nullptr;
    }
    return &*it;
}

ErrorOr<std::string> string_field(const json& obj, std::string_view key, const std::string& where,
                                  bool required) {
    const json* value = TRY(member(obj, key, where, required));
    if (!value) return std::string();
    if (!value->is_string()) return fail(path(where, key) + ": expected a string");
    return value->get<std::string>();
}

ErrorOr<uint64_t> unsigned_field(const json& obj, std::string_view key, const std::string& where,
                                 bool required) {
    const json* value = TRY(member(obj, key, where, required));
    if (!value) return 0;
    // A negative integer is number_integer, one too large for uint64 or with a fraction a float:
    // only number_unsigned is a size.
    if (!value->is_number_unsigned()) return fail(path(where, key) + ": expected a non-negative integer");
    return value->get<uint64_t>();
}

ErrorOr<Digest> digest_field(const json& obj, std::string_view key, const std::string& where) {
    auto text = TRY(string_field(obj, key, where, true));
    return TRY_CTX(parse_digest(text), path(where, key));
}

ErrorOr<std::vector<std::string>> string_array(const json& obj, std::string_view key,
                                               const std::string& where) {
    const json* value = TRY(member(obj, key, where, false));
    std::vector<std::string> items;
    if (!value) return items;
    if (!value->is_array()) return fail(path(where, key) + ": expected an array of strings");
    for (size_t i = 0; i < value->size(); ++i) {
        const json& item = (*value)[i];
        if (!item.is_string())
            return fail(path(where, key) + "[" + std::to_string(i) + "]: expected a string");
        items.push_back(item.get<std::string>());
    }
    return items;
}

ErrorOr<std::map<std::string, std::string>> string_map(const json& obj, std::string_view key,
                                                       const std::string& where) {
    const json* value = TRY(member(obj, key, where, false));
    std::map<std::string, std::string> items;
    if (!value) return items;
    if (!value->is_object()) return fail(path(where, key) + ": expected an object of strings");
    for (const auto& [name, item] : value->items()) {
        if (!item.is_string()) return fail(path(path(where, key), name) + ": expected a string");
        items.emplace(name, item.get<std::string>());
    }
    return items;
}

ErrorOr<std::vector<std::string>> object_keys(const json& obj, std::string_view key,
                                              const std::string& where) {
    const json* value = TRY(member(obj, key, where, false));
    std::vector<std::string> keys;
    if (!value) return keys;
    if (!value->is_object()) return fail(path(where, key) + ": expected an object");
    for (const auto& [name, item] : value->items()) keys.push_back(name);
    return keys;
}

}  // namespace hutch::images::json_fields
