// Typed reads of fields from untrusted JSON (nlohmann), each failing with one line that names the
// field's path ("config.Env[2]: expected string") instead of throwing. A field set to null
// reads as absent, as Docker writes unset fields ("Entrypoint": null). Internal to images/.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images::json_fields {

using nlohmann::json;

// where.key, or key at the top level.
std::string path(const std::string& where, std::string_view key);

// Parses text that must hold a JSON object; never throws.
ErrorOr<json> parse_object(std::string_view text);

// The member key of obj; nullptr when absent or null (an error when required).
ErrorOr<const json*> member(const json& obj, std::string_view key, const std::string& where, bool required);

ErrorOr<std::string> string_field(const json& obj, std::string_view key, const std::string& where,
                                  bool required);
ErrorOr<uint64_t> unsigned_field(const json& obj, std::string_view key, const std::string& where,
                                 bool required);
ErrorOr<Digest> digest_field(const json& obj, std::string_view key, const std::string& where);
ErrorOr<std::vector<std::string>> string_array(const json& obj, std::string_view key,
                                               const std::string& where);
ErrorOr<std::map<std::string, std::string>> string_map(const json& obj, std::string_view key,
                                                       const std::string& where);
// The keys of an object field ("Volumes": {"/data": {}} -> "/data").
ErrorOr<std::vector<std::string>> object_keys(const json& obj, std::string_view key,
                                              const std::string& where);

}  // namespace hutch::images::json_fields
