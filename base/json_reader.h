// Typed reads from a nlohmann::json tree of untrusted input (config.json, image manifests) that
// know where they are, so that every error names its field ("linux.resources.memory.limit:
// expected integer") and nothing throws. A null member reads as an absent one.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/error.h"

namespace hutch::json {

using Json = nlohmann::json;
// An alias, because a comma inside TRY(...) would split the macro's argument.
using StringMap = std::map<std::string, std::string>;

// "parent.key", or "key" at the top level.
std::string field_path(const std::string& parent, std::string_view key);
// "parent[index]".
std::string index_path(const std::string& parent, size_t index);

// The member named key, or nullptr when it is absent or null: Go's decoder, which every client
// of runc is tested against, treats a null member as an absent one.
const Json* member(const Json& object, std::string_view key);

// True when the member has content: not absent, null, "", [] or {}. Used to refuse fields that
// hutch does not implement while tolerating the empty values that generators like to write.
bool is_set(const Json& object, std::string_view key);

// Fails with "PATH.KEY: not supported yet" when the member is set.
ErrorOr<void> refuse_if_set(const Json& object, const std::string& path, std::string_view key);

ErrorOr<void> expect_object(const Json& value, const std::string& path);
ErrorOr<void> expect_array(const Json& value, const std::string& path);

ErrorOr<std::string> as_string(const Json& value, const std::string& path);
ErrorOr<bool> as_bool(const Json& value, const std::string& path);
ErrorOr<StringMap> as_string_map(const Json& value, const std::string& path);

// JSON integers only: 1.0 and 1e3 are refused, as Go's decoder refuses them for integer fields.
template <std::integral T>
ErrorOr<T> as_integer(const Json& value, const std::string& path) {
    if (value.is_number_unsigned()) {
        if (auto v = value.get<uint64_t>(); std::in_range<T>(v)) return static_cast<T>(v);
    } else if (value.is_number_integer()) {
        if (auto v = value.get<int64_t>(); std::in_range<T>(v)) return static_cast<T>(v);
    } else {
        return fail(path + ": expected integer");
    }
    return fail(path + ": integer out of range [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                std::to_string(std::numeric_limits<T>::max()) + "]");
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

// Converts one JSON value to T, naming path in the error.
template <typename T>
ErrorOr<T> convert(const Json& value, const std::string& path) {
    if constexpr (std::same_as<T, bool>) {
        return as_bool(value, path);
    } else if constexpr (std::integral<T>) {
        return as_integer<T>(value, path);
    } else if constexpr (std::same_as<T, std::string>) {
        return as_string(value, path);
    } else if constexpr (std::same_as<T, StringMap>) {
        return as_string_map(value, path);
    } else {
        static_assert(IsVector<T>::value, "no JSON conversion for this type");
        TRY(expect_array(value, path));
        T out;
        for (size_t i = 0; i < value.size(); ++i) {
            out.push_back(TRY(convert<typename T::value_type>(value[i], index_path(path, i))));
        }
        return out;
    }
}

// Reads object[key] into out when it is present; leaves out untouched when it is not.
template <typename T>
ErrorOr<void> read(const Json& object, const std::string& path, std::string_view key, T& out) {
    if (const Json* value = member(object, key)) out = TRY(convert<T>(*value, field_path(path, key)));
    return {};
}

template <typename T>
ErrorOr<void> read(const Json& object, const std::string& path, std::string_view key, std::optional<T>& out) {
    if (const Json* value = member(object, key)) out = TRY(convert<T>(*value, field_path(path, key)));
    return {};
}

// Reads object[key], which the spec says must be there.
template <typename T>
ErrorOr<T> require(const Json& object, const std::string& path, std::string_view key) {
    const Json* value = member(object, key);
    if (!value) return fail(field_path(path, key) + ": required");
    return convert<T>(*value, field_path(path, key));
}

// Reads the array object[key] element by element with parse(element, "PATH.KEY[i]").
template <typename T, typename Parse>
ErrorOr<void> read_list(const Json& object, const std::string& path, std::string_view key,
                        std::vector<T>& out, Parse parse) {
    const Json* value = member(object, key);
    if (!value) return {};
    std::string list_path = field_path(path, key);
    TRY(expect_array(*value, list_path));
    for (size_t i = 0; i < value->size(); ++i)
        out.push_back(TRY(parse((*value)[i], index_path(list_path, i))));
    return {};
}

}  // namespace hutch::json
