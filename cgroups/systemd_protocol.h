// What hutch-oci and its helper hutch-systemd (cgroups/systemd_bus/) say to each other. hutch-oci is
// a static binary and Debian ships no static libsystemd, so the D-Bus calls to systemd live in the
// helper, a dynamic one, run only for --systemd-cgroup:
//
//   hutch-systemd start|set|stop|ping  < {"unit": "hutch-ID.scope", "timeout_ms": 30000,
//                                    "properties": [{"name": "MemoryMax", "type": "t", "value": 1048576},
//                                                   {"name": "PIDs", "type": "au", "value": [42]}, ...]}
//
// start: StartTransientUnit and wait for its job; set: SetUnitProperties (runtime); stop: StopUnit
// and wait for its job (a unit already gone is not an error), then ResetFailedUnit; ping: only
// connect (and so say whether systemd can be reached at all). On success the
// helper exits 0 and writes a JSON answer on stdout ({"job", "result", "bus", "elapsed_us"});
// otherwise it exits non-zero with one line on stderr that says what failed and why. The property
// types are D-Bus signatures; the helper marshals only those in kPropertyTypes and refuses others.
// Header-only: the helper does not link hutch's libraries.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::cgroups::systemd {

// Booleans, strings, uint64 (sizes, times: UINT64_MAX is "infinity"), pid lists, bit masks
// (AllowedCPUs) and (path, access) pairs (DeviceAllow).
inline constexpr const char* kPropertyTypes[] = {"b", "s", "t", "au", "ay", "a(ss)"};

struct Property {
    std::string name;
    std::string type;  // a D-Bus signature from kPropertyTypes
    nlohmann::json value;

    bool operator==(const Property&) const = default;
};

struct Request {
    std::string unit;
    std::vector<Property> properties;
    unsigned timeout_ms = 30000;  // for a job to finish, and for each call
};

inline nlohmann::json request_to_json(const Request& request) {
    nlohmann::json properties = nlohmann::json::array();
    for (const Property& p : request.properties)
        properties.push_back({{"name", p.name}, {"type", p.type}, {"value", p.value}});
    return {{"unit", request.unit}, {"timeout_ms", request.timeout_ms}, {"properties", properties}};
}

// Checks the shape only; each value is checked against its type when it is marshalled.
inline ErrorOr<Request> request_from_json(const nlohmann::json& json) {
    Request request;
    if (!json.is_object() || !json.contains("unit") || !json["unit"].is_string())
        return fail("request: an object with a \"unit\" string is expected");
    request.unit = json["unit"].get<std::string>();
    if (json.contains("timeout_ms")) {
        if (!json["timeout_ms"].is_number_unsigned()) return fail("request: \"timeout_ms\" is not a number");
        request.timeout_ms = json["timeout_ms"].get<unsigned>();
    }
    if (!json.contains("properties")) return request;
    if (!json["properties"].is_array()) return fail("request: \"properties\" is not a list");
    for (const nlohmann::json& p : json["properties"]) {
        if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("type") ||
            !p["type"].is_string() || !p.contains("value"))
            return fail("request: each property is {\"name\", \"type\", \"value\"}: " + p.dump());
        request.properties.push_back(
            {p["name"].get<std::string>(), p["type"].get<std::string>(), p["value"]});
    }
    return request;
}

}  // namespace hutch::cgroups::systemd
