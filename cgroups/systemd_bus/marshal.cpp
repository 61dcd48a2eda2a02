// hutch's typed properties (systemd_protocol.h) as D-Bus a(sv).
#include <algorithm>
#include <cstring>

#include "cgroups/systemd_bus/bus.h"

namespace hutch::systemd_bus {
namespace {

using cgroups::systemd::Property;
using nlohmann::json;

bool is_uint(const json& value, uint64_t max) {
    return value.is_number_unsigned() && value.get<uint64_t>() <= max;
}

// The value's shape for its type; the message says what was expected.
ErrorOr<void> check_value(const Property& p) {
    auto bad = [&](const char* expected) {
        return fail("property " + p.name + " (" + p.type + "): " + expected + " expected, not " +
                    p.value.dump());
    };
    const json& v = p.value;
    if (p.type == "b" && !v.is_boolean()) return bad("true or false");
    if (p.type == "s" && !v.is_string()) return bad("a string");
    if (p.type == "t" && !is_uint(v, UINT64_MAX)) return bad("an unsigned 64-bit number");
    if (p.type == "au" &&
        !(v.is_array() && std::ranges::all_of(v, [](const json& e) { return is_uint(e, UINT32_MAX); })))
        return bad("a list of unsigned 32-bit numbers");
    if (p.type == "ay" &&
        !(v.is_array() && std::ranges::all_of(v, [](const json& e) { return is_uint(e, 255); })))
        return bad("a list of bytes");
    auto is_pair = [](const json& e) {
        return e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string();
    };
    if (p.type == "a(ss)" && !(v.is_array() && std::ranges::all_of(v, is_pair)))
        return bad("a list of [string, string]");
    return {};
}

// The variant's contents; r is sd-bus's result (negative errno).
int append_value(sd_bus_message* m, const Property& p) {
    const json& v = p.value;
    if (p.type == "b") return sd_bus_message_append(m, "b", static_cast<int>(v.get<bool>()));
    if (p.type == "s") return sd_bus_message_append(m, "s", v.get<std::string>().c_str());
    if (p.type == "t") return sd_bus_message_append(m, "t", v.get<uint64_t>());
    if (p.type == "ay") {
        std::vector<uint8_t> bytes = v.get<std::vector<uint8_t>>();
        return sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size());
    }
    int r = sd_bus_message_open_container(m, 'a', p.type == "au" ? "u" : "(ss)");
    for (const json& e : v) {
        if (r < 0) return r;
        r = p.type == "au" ? sd_bus_message_append(m, "u", e.get<uint32_t>())
                           : sd_bus_message_append(m, "(ss)", e[0].get<std::string>().c_str(),
                                                   e[1].get<std::string>().c_str());
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
}

}  // namespace

ErrorOr<void> append_properties(sd_bus_message* m, const std::vector<Property>& properties) {
    for (const Property& p : properties) {
        if (std::ranges::find(cgroups::systemd::kPropertyTypes, p.type) ==
            std::end(cgroups::systemd::kPropertyTypes))
            return fail("property " + p.name + ": type \"" + p.type +
                        "\" is not one hutch-systemd marshals (b, s, t, au, ay, a(ss))");
        TRY(check_value(p));
    }
    auto failed = [](int r) { return fail(std::string("marshal the properties: ") + std::strerror(-r)); };
    int r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r < 0) return failed(r);
    for (const Property& p : properties) {
        if ((r = sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
            (r = sd_bus_message_append(m, "s", p.name.c_str())) < 0 ||
            (r = sd_bus_message_open_container(m, 'v', p.type.c_str())) < 0 || (r = append_value(m, p)) < 0 ||
            (r = sd_bus_message_close_container(m)) < 0 || (r = sd_bus_message_close_container(m)) < 0)
            return fail("property " + p.name + ": " + std::strerror(-r));
    }
    if ((r = sd_bus_message_close_container(m)) < 0) return failed(r);
    return {};
}

}  // namespace hutch::systemd_bus
