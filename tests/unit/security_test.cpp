// The parent-side half of runtime/security.h: turning config.json's seccomp, capabilities and
// rlimits, as the parser accepted them, into plans, refusing only what this host's libseccomp
// cannot do. Nothing is loaded or applied here, so no root is needed.
#include "runtime/security.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <optional>

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

// ---- The -ENOSYS stub ----------------------------------------------------------------------

namespace {

// Runs a classic BPF program as the kernel would for one syscall, with only what the stub uses
// (loads of arch and nr, jumps on constants, constant returns): its return value, or nullopt
// when it runs off its end, which in the loaded filter is libseccomp's program.
std::optional<uint32_t> run_bpf(const std::vector<sock_filter>& program, uint32_t arch, uint32_t nr) {
    uint32_t a = 0;
    for (size_t pc = 0; pc < program.size(); ++pc) {
        const sock_filter& insn = program[pc];
        switch (insn.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                REQUIRE((insn.k == offsetof(seccomp_data, arch) || insn.k == offsetof(seccomp_data, nr)));
                a = insn.k == offsetof(seccomp_data, arch) ? arch : nr;
                break;
            case BPF_JMP | BPF_JA: pc += insn.k; break;
            case BPF_JMP | BPF_JEQ | BPF_K: pc += a == insn.k ? insn.jt : insn.jf; break;
            case BPF_JMP | BPF_JGT | BPF_K: pc += a > insn.k ? insn.jt : insn.jf; break;
            case BPF_JMP | BPF_JSET | BPF_K: pc += (a & insn.k) ? insn.jt : insn.jf; break;
            case BPF_RET | BPF_K: return insn.k;
            default: FAIL("unexpected BPF instruction " << insn.code << " at " << pc);
        }
        REQUIRE(pc < program.size());  // at most to the end: the next instruction is libseccomp's
    }
    return std::nullopt;
}

constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;
constexpr uint32_t kX32Bit = 0x40000000;

spec::Seccomp deny_all_but(std::vector<std::string> names) {
    spec::Seccomp seccomp;
    seccomp.default_action = "SCMP_ACT_ERRNO";
    seccomp.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    seccomp.syscalls = {rule(std::move(names), "SCMP_ACT_ALLOW")};
    return seccomp;
}

const security::SyscallCeiling* ceiling_for(const std::vector<security::SyscallCeiling>& ceilings,
                                            uint32_t audit_arch, bool x32 = false) {
    for (const auto& c : ceilings)
        if (c.audit_arch == audit_arch && c.x32 == x32) return &c;
    return nullptr;
}

}  // namespace

#if defined(__x86_64__)
TEST_CASE("seccomp stub: the highest syscall the profile names, per architecture", "[security][seccomp]") {
    // x86_64: read 0, openat 257, close_range 436. i386: read 3, openat 295, close_range 436.
    // x32: x86_64's numbers with the x32 bit; execve, one of x32's own, is 520 there.
    auto seccomp = deny_all_but({"read", "openat", "close_range", "no_such_syscall"});
    auto ceilings = security::syscall_ceilings(seccomp);
    REQUIRE(ceilings.size() == 3);
    CHECK(ceilings[0].audit_arch == AUDIT_ARCH_X86_64);  // the native architecture first
    CHECK_FALSE(ceilings[0].x32);
    CHECK(ceilings[0].highest == 436);
    REQUIRE(ceiling_for(ceilings, AUDIT_ARCH_I386));
    CHECK(ceiling_for(ceilings, AUDIT_ARCH_I386)->highest == 436);
    REQUIRE(ceiling_for(ceilings, AUDIT_ARCH_X86_64, true));
    CHECK(ceiling_for(ceilings, AUDIT_ARCH_X86_64, true)->highest == (kX32Bit | 436));
    // clone3 (435) is below the ceiling, unnamed, and the default is an errno: ENOSYS as well.
    CHECK(ceilings[0].enosys == std::vector<uint32_t>{435});

    seccomp.syscalls[0].names.push_back("execve");
    CHECK(ceiling_for(security::syscall_ceilings(seccomp), AUDIT_ARCH_X86_64, true)->highest ==
          (kX32Bit | 520));
}

TEST_CASE("seccomp stub: only where the default action denies, and clone3 only for an errno default",
          "[security][seccomp]") {
    auto seccomp = deny_all_but({"read", "close_range"});
    for (const char* action : {"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"}) {
        INFO(action);
        seccomp.default_action = action;
        CHECK(security::syscall_ceilings(seccomp).empty());
    }
    seccomp.default_action = "SCMP_ACT_ERRNO";
    seccomp.default_errno_ret = ENOSYS;  // already what the stub would say
    CHECK(security::syscall_ceilings(seccomp).empty());
    seccomp.default_errno_ret = EACCES;
    CHECK(security::syscall_ceilings(seccomp).size() == 3);

    seccomp.default_action = "SCMP_ACT_KILL_PROCESS";
    auto ceilings = security::syscall_ceilings(seccomp);
    REQUIRE(ceilings.size() == 3);
    CHECK(ceilings[0].highest == 436);
    CHECK(ceilings[0].enosys.empty());

    seccomp.default_action = "SCMP_ACT_ERRNO";
    seccomp.syscalls.push_back(rule({"clone3"}, "SCMP_ACT_ERRNO"));  // named: the profile decides
    CHECK(security::syscall_ceilings(seccomp)[0].enosys.empty());
    // Nothing named on any architecture: no stub, everything meets the default action.
    seccomp.syscalls = {rule({"no_such_syscall"}, "SCMP_ACT_ALLOW")};
    CHECK(security::syscall_ceilings(seccomp).empty());
    CHECK(security::enosys_stub({}).empty());
}
#endif

TEST_CASE("seccomp stub: ENOSYS above each ceiling and for the listed numbers, else the program",
          "[security][seccomp]") {
    std::vector<security::SyscallCeiling> ceilings = {
        {.audit_arch = AUDIT_ARCH_X86_64, .x32 = false, .highest = 436, .enosys = {435}},
        {.audit_arch = AUDIT_ARCH_I386, .x32 = false, .highest = 300, .enosys = {}},
        {.audit_arch = AUDIT_ARCH_X86_64, .x32 = true, .highest = kX32Bit | 520, .enosys = {}},
        {.audit_arch = AUDIT_ARCH_S390X, .x32 = false, .highest = 400, .enosys = {0}},
    };
    auto stub = security::enosys_stub(ceilings);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 0) == std::nullopt);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 436) == std::nullopt);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 437) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 435) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 0xffffffff) == kEnosys);  // x32 bit set, above x32's ceiling
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, kX32Bit | 435) == std::nullopt);  // not listed for x32
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, kX32Bit | 520) == std::nullopt);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, kX32Bit | 521) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_I386, 300) == std::nullopt);
    CHECK(run_bpf(stub, AUDIT_ARCH_I386, 301) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_I386, 435) == kEnosys);  // above i386's ceiling
    CHECK(run_bpf(stub, AUDIT_ARCH_S390X, 0) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_S390X, 1) == std::nullopt);
    CHECK(run_bpf(stub, AUDIT_ARCH_AARCH64, 1000) == std::nullopt);  // not in the filter: its program decides

    // Without an x32 ceiling, x32's numbers go on to the program, which has its own rule for them.
    ceilings = {{.audit_arch = AUDIT_ARCH_X86_64, .x32 = false, .highest = 300, .enosys = {}}};
    stub = security::enosys_stub(ceilings);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, 301) == kEnosys);
    CHECK(run_bpf(stub, AUDIT_ARCH_X86_64, kX32Bit | 1000) == std::nullopt);
    CHECK(stub.size() == 8);  // ld arch; jeq x86_64; ld nr; jset x32; jgt; ja; (x32:) ja; ret ENOSYS
}

TEST_CASE("seccomp stub: the filter's program is the stub, then libseccomp's, which loads the arch first",
          "[security][seccomp]") {
    auto seccomp = deny_all_but({"read", "write", "close_range"});
    auto filter = SeccompFilter::build(seccomp);
    REQUIRE(filter.has_value());
    auto stub = security::enosys_stub(security::syscall_ceilings(seccomp));
    REQUIRE(!stub.empty());
    const auto& program = filter->program();
    REQUIRE(program.size() > stub.size());
    CHECK(
        std::equal(stub.begin(), stub.end(), program.begin(), [](const sock_filter& x, const sock_filter& y) {
            return x.code == y.code && x.jt == y.jt && x.jf == y.jf && x.k == y.k;
        }));
    // The stub leaves the accumulator holding the syscall number; libseccomp's program must not
    // rely on what it finds there.
    const sock_filter& first = program[stub.size()];
    CHECK(first.code == (BPF_LD | BPF_W | BPF_ABS));
    CHECK(first.k == offsetof(seccomp_data, arch));

    // An allowing default: libseccomp's program alone.
    seccomp.default_action = "SCMP_ACT_ALLOW";
    seccomp.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO")};
    filter = SeccompFilter::build(seccomp);
    REQUIRE(filter.has_value());
    CHECK(filter->program().front().k == offsetof(seccomp_data, arch));
}
