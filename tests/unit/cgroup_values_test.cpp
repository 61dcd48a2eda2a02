// The values hutch writes to cgroup files, computed as runc computes them, and the device policy
// that both layouts enforce.
#include <catch2/catch.hpp>

#include "cgroups/device_program.h"
#include "cgroups/device_rules.h"
#include "cgroups/resource_values.h"

using namespace hutch;
using namespace hutch::cgroups;

namespace {

spec::DeviceRule rule(bool allow, std::string type, std::optional<int64_t> major,
                      std::optional<int64_t> minor, std::string access) {
    return spec::DeviceRule{.allow = allow, .type = type, .major = major, .minor = minor, .access = access};
}

}  // namespace

TEST_CASE("cpu.weight from cpu.shares by runc's formula", "[cgroups]") {
    CHECK(cpu_weight_from_shares(2) == 1);
    CHECK(cpu_weight_from_shares(1024) == 39);
    CHECK(cpu_weight_from_shares(262144) == 10000);
    CHECK(cpu_weight_from_shares(0) == 1);  // clamped like the kernel clamps shares
}

TEST_CASE("cpu.max from quota and period", "[cgroups]") {
    CHECK(cpu_max(50000, 100000) == "50000 100000");
    CHECK(cpu_max(std::nullopt, 100000) == "max 100000");
    CHECK(cpu_max(-1, std::nullopt) == "max");
    CHECK(cpu_max(20000, std::nullopt) == "20000");
}

TEST_CASE("the quota of a cpu.max line, which a new period alone keeps", "[cgroups]") {
    CHECK(quota_of_cpu_max("50000 100000\n").value() == 50000);
    CHECK(quota_of_cpu_max("max 100000").value() == -1);
    CHECK(quota_of_cpu_max("30000").value() == 30000);
    CHECK_FALSE(quota_of_cpu_max(""));
    CHECK_FALSE(quota_of_cpu_max("0 100000"));
    CHECK_FALSE(quota_of_cpu_max("fast 100000"));
}

TEST_CASE("io.weight from blkio.weight", "[cgroups]") {
    CHECK(io_weight_from_blkio(10) == 1);
    CHECK(io_weight_from_blkio(500) == 4950);
    CHECK(io_weight_from_blkio(1000) == 10000);
}

TEST_CASE("memory.swap.max from the spec's memory+swap", "[cgroups]") {
    auto value = [](std::optional<int64_t> limit, std::optional<int64_t> swap) {
        auto out = v2_swap_max(limit, swap);
        REQUIRE(out);
        return out->value_or("(none)");
    };
    CHECK(value(64, 128) == "64");
    CHECK(value(64, 64) == "0");
    CHECK(value(64, -1) == "max");
    CHECK(value(64, std::nullopt) == "(none)");
    CHECK(value(-1, std::nullopt) == "max");
    auto below = v2_swap_max(128, 64);
    REQUIRE_FALSE(below);
    CHECK_THAT(below.error().message, Catch::StartsWith("linux.resources.memory.swap: 64 is below"));
    REQUIRE_FALSE(v2_swap_max(std::nullopt, 64));
}

TEST_CASE("rdma.max lines name only the limits given", "[cgroups]") {
    CHECK(rdma_line("mlx5_1", {.hca_handles = 2, .hca_objects = 2000}) ==
          "mlx5_1 hca_handle=2 hca_object=2000");
    CHECK(rdma_line("mlx4_0", {.hca_handles = std::nullopt, .hca_objects = 5}) == "mlx4_0 hca_object=5");
}

TEST_CASE("device policy: deny all, then allows, as the v1 kernel keeps them", "[cgroups]") {
    DevicePolicy policy =
        device_policy(device_writes({rule(false, "c", 1, 3, "rwm"), rule(true, "b", 8, 0, "r")}));
    CHECK_FALSE(policy.default_allow);
    // The config denies /dev/null, which the defaults would allow: it is not among the exceptions.
    for (const auto& exception : policy.exceptions) {
        CHECK(exception.allow);
        CHECK_FALSE((exception.type == "c" && exception.major == 1 && exception.minor == 3));
    }
    auto block = std::ranges::find_if(policy.exceptions, [](const auto& e) { return e.type == "b"; });
    REQUIRE(block != policy.exceptions.end());
    CHECK(block->access == "r");
}

TEST_CASE("device policy: a blanket allow makes later denies the exceptions", "[cgroups]") {
    std::vector<DeviceWrite> writes = {
        {"devices.allow", "a *:* rwm", rule(true, "a", std::nullopt, std::nullopt, "rwm")},
        {"devices.deny", "c 1:3 w", rule(false, "c", 1, 3, "w")},
        {"devices.deny", "c 1:3 m", rule(false, "c", 1, 3, "m")},
        {"devices.allow", "c 1:3 m", rule(true, "c", 1, 3, "m")},
    };
    DevicePolicy policy = device_policy(writes);
    CHECK(policy.default_allow);
    REQUIRE(policy.exceptions.size() == 1);
    CHECK_FALSE(policy.exceptions[0].allow);
    CHECK(policy.exceptions[0].access == "w");
}

TEST_CASE("device program: one block per exception, then the default verdict", "[cgroups]") {
    DevicePolicy policy{.default_allow = false, .exceptions = {rule(true, "c", 1, 3, "rwm")}};
    std::vector<bpf_insn> program = compile_device_program(policy);
    // Six loads and shifts of the context, the type, major and minor tests, the verdict, the default.
    REQUIRE(program.size() == 6 + 3 + 2 + 2);
    CHECK(program.back().code == (BPF_JMP | BPF_EXIT));
    CHECK(program[program.size() - 2].imm == 0);  // default: deny
    CHECK(program[6].off == 4);                   // a type mismatch skips the rest of the block
    CHECK(program[6 + 3].imm == 1);               // the exception's verdict: allow
}
