// The parent-side half of runtime/security.h: turning config.json's seccomp, capabilities and
// rlimits, as the parser accepted them, into plans, refusing only what this host's libseccomp
// cannot do. Nothing is loaded or applied here, so no root is needed.
#include "runtime/security.h"

#include <seccomp.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>

using namespace hutch;
using hutch::security::SeccompFilter;

namespace {

spec::Seccomp allow_all() {
    spec::Seccomp seccomp;
    seccomp.default_action = "SCMP_ACT_ALLOW";
    return seccomp;
}

spec::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                          std::vector<spec::SeccompArg> args = {}) {
    spec::SeccompSyscall syscall;
    syscall.names = std::move(names);
    syscall.action = std::move(action);
    syscall.args = std::move(args);
    return syscall;
}

spec::SeccompArg arg(unsigned index, std::string op, uint64_t value, uint64_t value_two = 0) {
    return spec::SeccompArg{index, value, value_two, std::move(op)};
}

std::string build_error(const spec::Seccomp& seccomp) {
    auto filter = SeccompFilter::build(seccomp);
    REQUIRE_FALSE(filter.has_value());
    return filter.error().message;
}

uint64_t bit(int cap) { return uint64_t{1} << cap; }

}  // namespace

TEST_CASE("seccomp: a valid profile builds, counting one rule per known syscall", "[security]") {
    auto seccomp = allow_all();
    seccomp.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    seccomp.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
    auto errno_rule = rule({"mkdir", "rmdir"}, "SCMP_ACT_ERRNO");
    errno_rule.errno_ret = 38;
    seccomp.syscalls = {errno_rule, rule({"uname"}, "SCMP_ACT_KILL_PROCESS"),
                        rule({"personality"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_EQ", 0x1234)})};
    auto filter = SeccompFilter::build(seccomp);
    REQUIRE(filter.has_value());
    CHECK(filter->rule_count() == 4);
}

TEST_CASE("seccomp: unknown syscalls and rules equal to the default action are skipped", "[security]") {
    auto seccomp = allow_all();
    seccomp.syscalls = {rule({"no_such_syscall_anywhere", "getpid"}, "SCMP_ACT_KILL"),
                        rule({"read", "write"}, "SCMP_ACT_ALLOW")};
    auto filter = SeccompFilter::build(seccomp);
    REQUIRE(filter.has_value());
    CHECK(filter->rule_count() == 1);  // getpid only
}

TEST_CASE("seccomp: errno default is EPERM and defaultErrnoRet is honoured", "[security]") {
    spec::Seccomp seccomp;
    seccomp.default_action = "SCMP_ACT_ERRNO";
    // SCMP_ACT_ERRNO with EPERM is the default action itself, so this rule is skipped...
    auto same = rule({"mkdir"}, "SCMP_ACT_ERRNO");
    same.errno_ret = EPERM;
    seccomp.syscalls = {same};
    REQUIRE(SeccompFilter::build(seccomp)->rule_count() == 0);
    // ...but not once the default returns another errno.
    seccomp.default_errno_ret = 38;
    REQUIRE(SeccompFilter::build(seccomp)->rule_count() == 1);
}

TEST_CASE("seccomp: several conditions on one argument become one rule each", "[security]") {
    auto seccomp = allow_all();
    seccomp.syscalls = {rule({"personality"}, "SCMP_ACT_ERRNO",
                             {arg(0, "SCMP_CMP_EQ", 1), arg(0, "SCMP_CMP_EQ", 2), arg(0, "SCMP_CMP_EQ", 3)}),
                        rule({"clone"}, "SCMP_ACT_ERRNO",
                             {arg(0, "SCMP_CMP_MASKED_EQ", 0x7E020000, 0), arg(1, "SCMP_CMP_NE", 0)})};
    auto filter = SeccompFilter::build(seccomp);
    REQUIRE(filter.has_value());
    CHECK(filter->rule_count() == 3 + 1);
}

// What a profile may say is spec/'s rule (tests/unit/spec_test.cpp); the filter refuses only what
// this libseccomp cannot do, naming the field.
TEST_CASE("seccomp: what this libseccomp cannot do is refused with the field named", "[security]") {
#if SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR < 6
    SECTION("flag that needs a newer libseccomp") {
        auto seccomp = allow_all();
        seccomp.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
        CHECK_THAT(
            build_error(seccomp),
            Catch::StartsWith("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported "
                              "by libseccomp 2.5."));
    }
    SECTION("architecture that needs a newer libseccomp") {
        auto seccomp = allow_all();
        seccomp.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"};
        CHECK_THAT(build_error(seccomp),
                   Catch::StartsWith("linux.seccomp.architectures: SCMP_ARCH_LOONGARCH64 is not supported by "
                                     "libseccomp 2.5."));
    }
#endif
    SECTION("errnoRet is the action's data, EPERM when absent") {
        spec::Seccomp seccomp;
        seccomp.default_action = "SCMP_ACT_ERRNO";
        seccomp.default_errno_ret = ENOSYS;
        auto same = rule({"mkdir"}, "SCMP_ACT_ERRNO");
        same.errno_ret = ENOSYS;
        seccomp.syscalls = {same, rule({"rmdir"}, "SCMP_ACT_ERRNO")};
        auto filter = SeccompFilter::build(seccomp);
        REQUIRE(filter.has_value());
        CHECK(filter->rule_count() == 1);  // mkdir's is the default action; rmdir's returns EPERM
    }
}

TEST_CASE("seccomp: a filter moves, and its source is left empty", "[security]") {
    auto seccomp = allow_all();
    seccomp.syscalls = {rule({"mkdir"}, "SCMP_ACT_KILL")};
    auto built = SeccompFilter::build(seccomp);
    REQUIRE(built.has_value());
    SeccompFilter moved = std::move(*built);
    CHECK(moved.rule_count() == 1);
    SeccompFilter assigned = std::move(*SeccompFilter::build(allow_all()));
    assigned = std::move(moved);
    CHECK(assigned.rule_count() == 1);
}

TEST_CASE("capabilities: names map to their numbers", "[security]") {
    spec::Capabilities caps;
    caps.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"};
    caps.permitted = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
    caps.effective = {"CAP_KILL"};
    caps.inheritable = {"CAP_NET_BIND_SERVICE"};
    caps.ambient = {"CAP_NET_BIND_SERVICE"};
    auto plan = security::prepare_capabilities(caps);
    REQUIRE(plan.has_value());
    CHECK(plan->bounding ==
          (bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_SYS_ADMIN)));
    CHECK(plan->permitted == (bit(0) | bit(5) | bit(10)));
    CHECK(plan->effective == bit(5));
    CHECK(plan->inheritable == bit(10));
    CHECK(plan->ambient == bit(10));
    CHECK(plan->last_cap == static_cast<int>(cap_max_bits()) - 1);
}

TEST_CASE("capabilities: absent means none at all", "[security]") {
    auto plan = security::prepare_capabilities(std::nullopt);
    REQUIRE(plan.has_value());
    CHECK((plan->bounding | plan->effective | plan->permitted | plan->inheritable | plan->ambient) == 0);
}

// Names and sets are judged by spec/ (tests/unit/spec_test.cpp); what the kernel cannot raise is
// skipped, as runc does.
TEST_CASE("capabilities: ambient ones outside permitted and inheritable are skipped", "[security]") {
    spec::Capabilities caps;
    caps.permitted = {"CAP_KILL", "CAP_CHOWN"};
    caps.inheritable = {"CAP_KILL"};
    caps.ambient = {"CAP_KILL", "CAP_CHOWN"};
    auto plan = security::prepare_capabilities(caps);
    REQUIRE(plan.has_value());
    CHECK(plan->ambient == bit(CAP_KILL));
}

TEST_CASE("capabilities: features lists the names config.json may hold", "[security]") {
    auto names = security::known_capability_names();
    CHECK(std::ranges::find(names, "CAP_SYS_ADMIN") != names.end());
    CHECK(std::ranges::find(names, "CAP_CHOWN") != names.end());
    for (const auto& name : names) {
        INFO(name);
        CHECK(spec::is_capability_name(name));
    }
}

TEST_CASE("rlimits: names map to resources", "[security]") {
    auto plan = security::prepare_rlimits({{"RLIMIT_NOFILE", 100, 200},
                                           {"RLIMIT_CORE", 0, RLIM_INFINITY},
                                           {"RLIMIT_NPROC", 10, 10},
                                           {"RLIMIT_RTTIME", 1, 2}});
    REQUIRE(plan.has_value());
    REQUIRE(plan->entries.size() == 4);
    CHECK(plan->entries[0].resource == RLIMIT_NOFILE);
    CHECK(plan->entries[0].name == "RLIMIT_NOFILE");
    CHECK(plan->entries[0].limit.rlim_cur == 100);
    CHECK(plan->entries[0].limit.rlim_max == 200);
    CHECK(plan->entries[1].resource == RLIMIT_CORE);
    CHECK(plan->entries[1].limit.rlim_max == RLIM_INFINITY);
    CHECK(plan->entries[2].resource == RLIMIT_NPROC);
    CHECK(plan->entries[3].resource == RLIMIT_RTTIME);
}

TEST_CASE("seccomp: a filter with a notify rule says so, one without does not", "[security]") {
    auto seccomp = allow_all();
    seccomp.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO")};
    CHECK_FALSE(security::SeccompFilter::build(seccomp).value().notifies());
    seccomp.syscalls.push_back(rule({"mkdirat"}, "SCMP_ACT_NOTIFY"));
    CHECK(security::SeccompFilter::build(seccomp).value().notifies());
}
