// The systemd cgroup driver's pure parts: cgroupsPath and slice resolution, the unit properties
// computed from linux.resources, and the request hutch-oci sends its hutch-systemd helper.
#include <catch2/catch.hpp>

#include "cgroups/resource_values.h"
#include "cgroups/systemd_path.h"
#include "cgroups/systemd_properties.h"
#include "cgroups/systemd_protocol.h"

using namespace hutch;
using namespace hutch::cgroups;
using hutch::cgroups::systemd::Property;

namespace {

// The property named name, or a Property with an empty name.
Property find(const std::vector<Property>& properties, const std::string& name) {
    for (const Property& p : properties)
        if (p.name == name) return p;
    return {};
}

size_t count(const std::vector<Property>& properties, const std::string& name) {
    return std::ranges::count(properties, name, &Property::name);
}

spec::DeviceRule rule(bool allow, std::string type, std::optional<int64_t> major,
                      std::optional<int64_t> minor, std::string access) {
    return spec::DeviceRule{.allow = allow, .type = type, .major = major, .minor = minor, .access = access};
}

}  // namespace

TEST_CASE("systemd: slices expand to the nested cgroup path systemd gives them", "[systemd]") {
    CHECK(expand_slice("system.slice").value() == "/system.slice");
    CHECK(expand_slice("a-b-c.slice").value() == "/a.slice/a-b.slice/a-b-c.slice");
    CHECK(expand_slice("machine-libpod_pod_1.slice").value() == "/machine.slice/machine-libpod_pod_1.slice");
    CHECK(expand_slice("-.slice").value() == "/");
    for (const char* bad : {"a--b.slice", "-a.slice", "a-.slice", ".slice", "system", "a/b.slice",
                            "a b.slice", "sys+tem.slice", ""}) {
        INFO(bad);
        auto expanded = expand_slice(bad);
        REQUIRE_FALSE(expanded);
        CHECK(expanded.error().message.find("slice \"" + std::string(bad) + "\"") == 0);
    }
    CHECK_FALSE(expand_slice(std::string(250, 'a') + ".slice"));
}

TEST_CASE("systemd: cgroupsPath slice:prefix:name names a scope in a slice", "[systemd]") {
    auto place = resolve_systemd_path("machine.slice:libpod:abc123", "ignored").value();
    CHECK(place.slice == "machine.slice");
    CHECK(place.unit == "libpod-abc123.scope");
    CHECK(place.dir == "/sys/fs/cgroup/machine.slice/libpod-abc123.scope");

    place = resolve_systemd_path("", "ctr1").value();
    CHECK(place.slice == "system.slice");
    CHECK(place.unit == "hutch-ctr1.scope");
    CHECK(place.dir == "/sys/fs/cgroup/system.slice/hutch-ctr1.scope");

    place = resolve_systemd_path(":crio:x", "id").value();  // empty slice: system.slice
    CHECK(place.dir == "/sys/fs/cgroup/system.slice/crio-x.scope");
    place = resolve_systemd_path("a-b.slice::x", "id").value();  // no prefix
    CHECK(place.unit == "x.scope");
    CHECK(place.dir == "/sys/fs/cgroup/a.slice/a-b.slice/x.scope");
    place = resolve_systemd_path("-.slice:p:x", "id").value();
    CHECK(place.dir == "/sys/fs/cgroup/p-x.scope");
}

TEST_CASE("systemd: a cgroupsPath not in systemd's form is refused naming the field", "[systemd]") {
    for (const char* bad : {"/a/b", "a:b", "a:b:c:d", "system.slice:p:", "system.slice:p:x.slice",
                            "system--x.slice:p:x", "system.slice:p:a b", "system.slice:p:a/b"}) {
        INFO(bad);
        auto place = resolve_systemd_path(bad, "id");
        REQUIRE_FALSE(place);
        CHECK(place.error().message.starts_with("linux.cgroupsPath: "));
        CHECK(place.error().message.find('\n') == std::string::npos);
    }
    CHECK(resolve_systemd_path("system.slice:p:x.slice", "id").error().message.find("not supported yet") !=
          std::string::npos);
    CHECK_FALSE(resolve_systemd_path("", "a+b"));  // an id systemd cannot name
}

TEST_CASE("systemd: cpuset lists become AllowedCPUs byte masks", "[systemd]") {
    using Bytes = std::vector<uint8_t>;
    CHECK(cpu_mask_bytes("0", "f").value() == Bytes{0x01});
    CHECK(cpu_mask_bytes("0-3,5", "f").value() == Bytes{0x2f});
    CHECK(cpu_mask_bytes("1,9", "f").value() == Bytes{0x02, 0x02});
    CHECK(cpu_mask_bytes(" 8-9 ,, 2 ", "f").value() == Bytes{0x04, 0x03});
    CHECK(cpu_mask_bytes("16", "f").value() == Bytes{0x00, 0x00, 0x01});
    for (const char* bad : {"", ",", "a", "3-1", "1-", "-1", "1-2-3", "70000", "0x1"}) {
        INFO(bad);
        auto mask = cpu_mask_bytes(bad, "linux.resources.cpu.cpus");
        REQUIRE_FALSE(mask);
        CHECK(mask.error().message.starts_with("linux.resources.cpu.cpus: \""));
    }
}

TEST_CASE("systemd: CPU quota per second, rounded up to 10 ms as runc does", "[systemd]") {
    CHECK(cpu_quota_per_sec_usec(50000, 100000) == 500000);
    CHECK(cpu_quota_per_sec_usec(50000, std::nullopt) == 500000);  // the default period
    CHECK(cpu_quota_per_sec_usec(12345, 100000) == 130000);        // 123450 -> 130000
    CHECK(cpu_quota_per_sec_usec(200000, 100000) == 2000000);
    CHECK(cpu_quota_per_sec_usec(std::nullopt, 100000) == kInfinity);
    CHECK(cpu_quota_per_sec_usec(-1, 100000) == kInfinity);
    CHECK(cpu_quota_per_sec_usec(0, std::nullopt) == kInfinity);
}

TEST_CASE("systemd: resources become the properties systemd knows", "[systemd]") {
    spec::Resources r;
    r.memory = spec::MemoryResources{};
    r.memory->limit = 64 << 20;
    r.memory->reservation = 32 << 20;
    r.memory->swap = 96 << 20;
    r.cpu = spec::CpuResources{};
    r.cpu->shares = 1024;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1";
    r.cpu->mems = "0";
    r.cpu->burst = 1000;  // no property: cgroupfs only
    r.pids_limit = 100;
    r.block_io = spec::BlockIoResources{};
    r.block_io->weight = 500;
    auto props = resource_properties(r).value();
    CHECK(find(props, "MemoryMax") == Property{"MemoryMax", "t", 64 << 20});
    CHECK(find(props, "MemoryLow") == Property{"MemoryLow", "t", 32 << 20});
    CHECK(find(props, "MemorySwapMax") == Property{"MemorySwapMax", "t", 32 << 20});  // swap alone
    CHECK(find(props, "CPUWeight") == Property{"CPUWeight", "t", cpu_weight_from_shares(1024)});
    CHECK(find(props, "CPUQuotaPerSecUSec") == Property{"CPUQuotaPerSecUSec", "t", 500000});
    CHECK(find(props, "CPUQuotaPeriodUSec") == Property{"CPUQuotaPeriodUSec", "t", 100000});
    CHECK(find(props, "AllowedCPUs") == Property{"AllowedCPUs", "ay", nlohmann::json::array({3})});
    CHECK(find(props, "AllowedMemoryNodes") ==
          Property{"AllowedMemoryNodes", "ay", nlohmann::json::array({1})});
    CHECK(find(props, "TasksMax") == Property{"TasksMax", "t", 100});
    CHECK(find(props, "IOWeight") == Property{"IOWeight", "t", io_weight_from_blkio(500)});
    CHECK(props.size() == 10);
}

TEST_CASE("systemd: unlimited values are systemd's infinity", "[systemd]") {
    spec::Resources r;
    r.memory = spec::MemoryResources{};
    r.memory->limit = -1;
    r.cpu = spec::CpuResources{};
    r.cpu->quota = -1;
    r.pids_limit = 0;
    auto props = resource_properties(r).value();
    CHECK(find(props, "MemoryMax").value == kInfinity);
    CHECK(find(props, "MemorySwapMax").value == kInfinity);  // limit -1: swap unlimited too
    CHECK(find(props, "CPUQuotaPerSecUSec").value == kInfinity);
    CHECK(count(props, "CPUQuotaPeriodUSec") == 0);
    CHECK(find(props, "TasksMax").value == kInfinity);
    CHECK(resource_properties(spec::Resources{}).value().empty());
}

TEST_CASE("systemd: bad resources fail naming the field", "[systemd]") {
    spec::Resources r;
    r.cpu = spec::CpuResources{};
    r.cpu->cpus = "0-";
    auto props = resource_properties(r);
    REQUIRE_FALSE(props);
    CHECK(props.error().message.starts_with("linux.resources.cpu.cpus: "));
    r = {};
    r.memory = spec::MemoryResources{};
    r.memory->limit = 100;
    r.memory->swap = 50;  // below the limit
    CHECK(resource_properties(r).error().message.starts_with("linux.resources.memory.swap: "));
    r = {};
    r.unified["memory.high"] = "lots";
    CHECK(resource_properties(r).error().message.starts_with("linux.resources.unified[\"memory.high\"]: "));
}

TEST_CASE("systemd: unified keys systemd knows become properties, after the fields", "[systemd]") {
    spec::Resources r;
    r.memory = spec::MemoryResources{};
    r.memory->limit = 1 << 20;
    r.unified = {{"memory.max", "max"},      {"memory.high", "524288"}, {"pids.max", "7"},
                 {"cpu.max", "25000 50000"}, {"cpu.weight", "42"},      {"cpuset.cpus", "2"},
                 {"io.max", "8:0 rbps=1"}};  // io.max: no property
    auto props = resource_properties(r).value();
    REQUIRE(count(props, "MemoryMax") == 2);
    CHECK(props.back().name != "MemoryMax");
    Property last_max;
    for (const Property& p : props)
        if (p.name == "MemoryMax") last_max = p;
    CHECK(last_max.value == kInfinity);  // the unified key overrides the field
    CHECK(find(props, "MemoryHigh").value == 524288);
    CHECK(find(props, "TasksMax").value == 7);
    CHECK(find(props, "CPUQuotaPerSecUSec").value == 500000);
    CHECK(find(props, "CPUQuotaPeriodUSec").value == 50000);
    CHECK(find(props, "CPUWeight").value == 42);
    CHECK(find(props, "AllowedCPUs").value == nlohmann::json::array({4}));
    CHECK(props.size() == 8);
    r.unified = {{"cpu.max", "max"}};
    r.memory.reset();
    CHECK(find(resource_properties(r).value(), "CPUQuotaPerSecUSec").value == kInfinity);
    r.unified = {{"cpu.max", "10 0"}};
    CHECK_FALSE(resource_properties(r));
}

TEST_CASE("systemd: a default-deny device policy is strict with systemd's device names", "[systemd]") {
    DevicePolicy policy{
        .default_allow = false,
        .exceptions = {rule(true, "c", 1, 3, "rwm"), rule(true, "c", 136, std::nullopt, "rw"),
                       rule(true, "b", 8, 0, "r"), rule(true, "b", std::nullopt, std::nullopt, "m")}};
    auto props = device_properties(policy);
    REQUIRE(props.size() == 2);
    CHECK(props[0] == Property{"DevicePolicy", "s", "strict"});
    CHECK(props[1].name == "DeviceAllow");
    CHECK(props[1].type == "a(ss)");
    CHECK(props[1].value ==
          nlohmann::json::parse(
              R"([["/dev/char/1:3","rwm"],["char-136","rw"],["/dev/block/8:0","r"],["block-*","m"]])"));
}

TEST_CASE("systemd: the default devices, and policies systemd cannot say, as it can", "[systemd]") {
    // What every container gets: strict, its default devices listed.
    auto props = device_properties(device_policy(device_writes({})));
    CHECK(find(props, "DevicePolicy").value == "strict");
    CHECK(find(props, "DeviceAllow").value.size() == default_allowed_devices().size());
    const nlohmann::json allowed = find(props, "DeviceAllow").value;
    CHECK(std::ranges::find(allowed, nlohmann::json::array({"/dev/char/1:3", "rwm"})) != allowed.end());

    // Default allow (a blocklist): auto, the device program enforces the exceptions.
    DevicePolicy allow{.default_allow = true, .exceptions = {rule(false, "c", 1, 3, "w")}};
    props = device_properties(allow);
    CHECK(find(props, "DevicePolicy").value == "auto");
    CHECK(find(props, "DeviceAllow").value == nlohmann::json::array());

    // Any major with one minor: systemd has no name for it.
    DevicePolicy odd{.default_allow = false, .exceptions = {rule(true, "c", std::nullopt, 5, "r")}};
    CHECK(find(device_properties(odd), "DevicePolicy").value == "auto");

    // Type "a" with numbers: both kinds.
    DevicePolicy both{.default_allow = false, .exceptions = {rule(true, "a", 7, std::nullopt, "r")}};
    CHECK(find(device_properties(both), "DeviceAllow").value ==
          nlohmann::json::parse(R"([["char-7","r"],["block-7","r"]])"));
}

TEST_CASE("systemd: a scope is delegated, holds the pid and accounts", "[systemd]") {
    spec::Resources r;
    r.memory = spec::MemoryResources{};
    r.memory->limit = 1 << 20;
    auto props = scope_properties("ctr", "machine.slice", 4242, &r).value();
    CHECK(find(props, "Description").value == "hutch container ctr");
    CHECK(find(props, "Slice").value == "machine.slice");
    CHECK(find(props, "Delegate") == Property{"Delegate", "b", true});
    CHECK(find(props, "PIDs") == Property{"PIDs", "au", nlohmann::json::array({4242})});
    CHECK(find(props, "DefaultDependencies").value == false);
    for (const char* accounting : {"MemoryAccounting", "CPUAccounting", "TasksAccounting", "IOAccounting"})
        CHECK(find(props, accounting).value == true);
    CHECK(find(props, "DevicePolicy").value == "strict");
    CHECK(find(props, "MemoryMax").value == 1 << 20);
    CHECK(find(scope_properties("ctr", "system.slice", 1, nullptr).value(), "DevicePolicy").value ==
          "strict");
}

TEST_CASE("systemd: the helper's request survives JSON, and bad ones are refused", "[systemd]") {
    systemd::Request request{
        .unit = "hutch-x.scope",
        .properties = {{"MemoryMax", "t", kInfinity},
                       {"PIDs", "au", nlohmann::json::array({1, 2})},
                       {"DeviceAllow", "a(ss)", nlohmann::json::parse(R"([["/dev/null","rwm"]])")}},
        .timeout_ms = 5000};
    auto text = systemd::request_to_json(request).dump();
    auto back = systemd::request_from_json(nlohmann::json::parse(text)).value();
    CHECK(back.unit == request.unit);
    CHECK(back.timeout_ms == 5000);
    CHECK(back.properties == request.properties);
    CHECK(back.properties[0].value.get<uint64_t>() == UINT64_MAX);
    CHECK_FALSE(systemd::request_from_json(nlohmann::json::parse(R"({"properties": []})")));
    CHECK_FALSE(
        systemd::request_from_json(nlohmann::json::parse(R"({"unit": "u", "properties": [{"name": "x"}]})")));
    CHECK_FALSE(systemd::request_from_json(nlohmann::json::parse(R"({"unit": "u", "timeout_ms": -1})")));
}
