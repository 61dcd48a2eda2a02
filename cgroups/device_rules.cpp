#include "cgroups/device_rules.h"

#include <algorithm>

#include "cgroups/manager.h"

namespace hutch::cgroups {
namespace {

std::string number_or_any(const std::optional<int64_t>& value) {
    return value && *value >= 0 ? std::to_string(*value) : "*";
}

spec::DeviceRule char_device(int64_t major, std::optional<int64_t> minor) {
    return spec::DeviceRule{.allow = true, .type = "c", .major = major, .minor = minor, .access = "rwm"};
}

bool same_device(const spec::DeviceRule& a, const spec::DeviceRule& b) {
    return a.type == b.type && a.major == b.major && a.minor == b.minor;
}

std::string access_of(const spec::DeviceRule& rule) { return rule.access.empty() ? "rwm" : rule.access; }

std::string without(std::string access, const std::string& removed) {
    std::erase_if(access, [&](char c) { return removed.find(c) != std::string::npos; });
    return access;
}

}  // namespace

std::string format_device_rule(const spec::DeviceRule& rule) {
    std::string type = rule.type.empty() ? "a" : rule.type;
    return type + " " + number_or_any(rule.major) + ":" + number_or_any(rule.minor) + " " + access_of(rule);
}

const std::vector<spec::DeviceRule>& default_allowed_devices() {
    static const std::vector<spec::DeviceRule> defaults = {
        char_device(1, 3), char_device(1, 5), char_device(1, 7), char_device(1, 8),
        char_device(1, 9), char_device(5, 0), char_device(5, 2), char_device(136, std::nullopt),
    };
    return defaults;
}

std::vector<DeviceWrite> device_writes(const std::vector<spec::DeviceRule>& rules) {
    std::vector<DeviceWrite> writes = {
        {"devices.deny", "a",
         spec::DeviceRule{.allow = false, .type = "a", .major = {}, .minor = {}, .access = "rwm"}}};
    for (const spec::DeviceRule& rule : rules) {
        writes.push_back({rule.allow ? "devices.allow" : "devices.deny", format_device_rule(rule), rule});
    }
    for (spec::DeviceRule device : default_allowed_devices()) {
        for (const spec::DeviceRule& rule : rules) {
            if (!rule.allow && same_device(rule, device))
                device.access = without(device.access, access_of(rule));
        }
        if (!device.access.empty()) writes.push_back({"devices.allow", format_device_rule(device), device});
    }
    return writes;
}

DevicePolicy device_policy(const std::vector<DeviceWrite>& writes) {
    DevicePolicy policy;
    for (const DeviceWrite& write : writes) {
        const spec::DeviceRule& rule = write.rule;
        if (rule.type == "a" && !rule.major && !rule.minor) {
            policy = DevicePolicy{.default_allow = rule.allow, .exceptions = {}};
            continue;
        }
        auto same = std::ranges::find_if(
            policy.exceptions, [&](const spec::DeviceRule& known) { return same_device(known, rule); });
        bool adds = rule.allow != policy.default_allow;
        if (adds && same == policy.exceptions.end()) {
            spec::DeviceRule exception = rule;
            exception.allow = !policy.default_allow;
            exception.access = access_of(rule);
            policy.exceptions.push_back(exception);
        } else if (adds) {
            for (char c : access_of(rule))
                if (same->access.find(c) == std::string::npos) same->access += c;
        } else if (same != policy.exceptions.end()) {
            same->access = without(same->access, access_of(rule));
            if (same->access.empty()) policy.exceptions.erase(same);
        }
    }
    return policy;
}

spec::Resources resources_allowing_devices(const spec::Resources* resources,
                                           const std::vector<spec::Device>& devices) {
    spec::Resources out = resources ? *resources : spec::Resources{};
    for (const spec::Device& device : devices) {
        if (device.type == "p") continue;
        std::string type = device.type == "u" ? "c" : device.type;
        out.devices.push_back(spec::DeviceRule{
            .allow = true, .type = type, .major = device.major, .minor = device.minor, .access = "rwm"});
    }
    return out;
}

}  // namespace hutch::cgroups
