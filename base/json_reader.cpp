#include "base/json_reader.h"

namespace hutch::json {

std::string field_path(const std::string& parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    return parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

const Json* member(const Json& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

bool is_set(const Json& object, std::string_view key) {
    const Json* value = member(object, key);
    if (!value) return false;
    if (value->is_string()) return !value->get_ref<const std::string&>().empty();
    if (value->is_array() || value->is_object()) return !value->empty();
    return true;
}

ErrorOr<void> refuse_if_set(const Json& object, const std::string& path, std::string_view key) {
    if (is_set(object, key)) return fail(field_path(path, key) + ": not supported yet");
    return {};
}

ErrorOr<void> expect_object(const Json& value, const std::string& path) {
    if (!value.is_object()) return fail(path + ": expected object");
    return {};
}

ErrorOr<void> expect_array(const Json& value, const std::string& path) {
    if (!value.is_array()) return fail(path + ": expected array");
    return {};
}

ErrorOr<std::string> as_string(const Json& value, const std::string& path) {
    if (!value.is_string()) return fail(path + ": expected string");
    return value.get<std::string>();
}

ErrorOr<bool> as_bool(const Json& value, const std::string& path) {
    if (!value.is_boolean()) return fail(path + ": expected boolean");
    return value.get<bool>();
}

ErrorOr<StringMap> as_string_map(const Json& value, const std::string& path) {
    TRY(expect_object(value, path));
    StringMap out;
    for (const auto& [key, item] : value.items()) out[key] = TRY(as_string(item, field_path(path, key)));
    return out;
}

}  // namespace hutch::json
