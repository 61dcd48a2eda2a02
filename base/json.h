// JSON text that cannot throw. nlohmann's dump() throws (type_error 316) on a string that is not
// UTF-8, and what hutch-oci writes holds bytes it does not choose: bundle paths, hook output in
// log messages, cgroup directories. Those bytes become U+FFFD, as Go's encoding/json writes them
// in runc's output, so that a reader always gets valid JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hutch {

// j.dump(indent), with bytes that are not UTF-8 replaced. For nlohmann::json and ordered_json.
template <typename Json>
std::string json_text(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace hutch
