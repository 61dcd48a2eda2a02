// linux.seccomp -> a libseccomp filter, built in the parent, loaded by the child. What the
// profile may say is the config.json parser's rule (spec/parse_seccomp.cpp): this translates it,
// and refuses only what this libseccomp or the running kernel cannot do.
// Behaviour follows runc where the runtime-spec leaves room: unknown syscall names are skipped
// (profiles list syscalls of other kernels and architectures), rules whose action is the default
// action are skipped (libseccomp refuses them), and several conditions on the same argument are
// split into one rule each (libseccomp refuses them in one rule).
// libseccomp only generates the BPF program (seccomp_export_bpf): hutch puts the -ENOSYS stub
// (security.h) before it and loads it with seccomp(2) itself, as runc does; libseccomp 2.5 has no
// way to say "any syscall above N".
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "runtime/security.h"

namespace hutch::security {
namespace {

// runc turns libseccomp's binary-tree layout on above this many rules: long profiles (Docker's has
// ~350 syscalls) then cost a few comparisons per syscall instead of a linear scan. Not below it,
// because libseccomp <= 2.5.4 misbehaves with the optimisation and no rules.
constexpr size_t kBinaryTreeThreshold = 32;

struct Named {
    std::string_view name;
    uint32_t value;
};

// Actions that take no errno. SCMP_ACT_KILL is the runtime-spec's name for killing the thread.
constexpr std::array kPlainActions{
    Named{"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    Named{"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
    Named{"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    Named{"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    Named{"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    Named{"SCMP_ACT_LOG", SCMP_ACT_LOG},
};

constexpr std::array kOperators{
    Named{"SCMP_CMP_NE", SCMP_CMP_NE},
    Named{"SCMP_CMP_LT", SCMP_CMP_LT},
    Named{"SCMP_CMP_LE", SCMP_CMP_LE},
    Named{"SCMP_CMP_EQ", SCMP_CMP_EQ},
    Named{"SCMP_CMP_GE", SCMP_CMP_GE},
    Named{"SCMP_CMP_GT", SCMP_CMP_GT},
    Named{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

constexpr std::array kArchitectures{
    Named{"SCMP_ARCH_X86", SCMP_ARCH_X86},
    Named{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    Named{"SCMP_ARCH_X32", SCMP_ARCH_X32},
    Named{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    Named{"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    Named{"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    Named{"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    Named{"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    Named{"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    Named{"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    Named{"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    Named{"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    Named{"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    Named{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    Named{"SCMP_ARCH_S390", SCMP_ARCH_S390},
    Named{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    Named{"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    Named{"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    Named{"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
// Added by libseccomp 2.6; the runtime-spec names them, libseccomp 2.5 cannot filter them.
#ifdef SCMP_ARCH_LOONGARCH64
    Named{"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
#ifdef SCMP_ARCH_M68K
    Named{"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#endif
#ifdef SCMP_ARCH_SH
    Named{"SCMP_ARCH_SH", SCMP_ARCH_SH},
    Named{"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB},
#endif
};

std::string libseccomp_version() {
    return std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) + "." +
           std::to_string(SCMP_VER_MICRO);
}

// The filter flags libseccomp exposes as attributes, with the bit hutch passes to seccomp(2) for
// each. SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV arrived in libseccomp 2.6 (and only matters with
// SCMP_ACT_NOTIFY).
struct FilterFlag {
    std::string_view name;
    scmp_filter_attr attribute;
    // TSYNC syncs the filter to the caller's other threads: the cloned child that loads it has none.
    unsigned kernel_flag;
};
constexpr std::array kFlags {
    FilterFlag{"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC, 0},
        FilterFlag{"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG, SECCOMP_FILTER_FLAG_LOG},
        FilterFlag{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB, SECCOMP_FILTER_FLAG_SPEC_ALLOW},
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
        FilterFlag{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SCMP_FLTATR_CTL_WAITKILL,
                   SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
#endif
};

template <size_t N>
const uint32_t* lookup(const std::array<Named, N>& table, std::string_view name) {
    for (const auto& entry : table)
        if (entry.name == name) return &entry.value;
    return nullptr;
}

// A name the config.json parser accepted that is missing from the tables here: one this
// libseccomp cannot do (an architecture or flag of a newer one).
std::unexpected<Error> unsupported(const std::string& field, const std::string& name) {
    return fail(field + ": " + name + " is not supported by libseccomp " + libseccomp_version());
}

// An action as the config.json parser accepted it (known; errnoRet, within 16 bits, only on
// SCMP_ACT_ERRNO and SCMP_ACT_TRACE), as libseccomp's number.
ErrorOr<uint32_t> translate_action(const std::string& action, std::optional<uint32_t> errno_ret,
                                   const std::string& action_field) {
    // EPERM when errnoRet is absent: the runtime-spec's default, as runc.
    const auto data = static_cast<uint16_t>(errno_ret.value_or(EPERM));
    if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(data);
    if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(data);
    if (action == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
    const uint32_t* value = lookup(kPlainActions, action);
    if (!value) return unsupported(action_field, action);
    return *value;
}

ErrorOr<void> add_architectures(scmp_filter_ctx ctx, const std::vector<std::string>& architectures) {
    for (const auto& name : architectures) {
        const uint32_t* arch = lookup(kArchitectures, name);
        if (!arch) return unsupported("linux.seccomp.architectures", name);
        // -EEXIST: the native architecture, which every filter has, or a name listed twice.
        int rc = seccomp_arch_add(ctx, *arch);
        if (rc < 0 && rc != -EEXIST) return fail_errno("linux.seccomp.architectures: adding " + name, -rc);
    }
    return {};
}

// Sets each flag on ctx, which checks that the running kernel has it, and returns the bits to pass
// to seccomp(2).
ErrorOr<unsigned> set_flags(scmp_filter_ctx ctx, const std::vector<std::string>& flags) {
    unsigned kernel_flags = 0;
    for (const auto& name : flags) {
        auto flag = std::find_if(kFlags.begin(), kFlags.end(), [&](const auto& f) { return f.name == name; });
        if (flag == kFlags.end()) return unsupported("linux.seccomp.flags", name);
        // Fails when the running kernel lacks the flag (libseccomp asks it).
        int rc = seccomp_attr_set(ctx, flag->attribute, 1);
        if (rc < 0) return fail_errno("linux.seccomp.flags: " + name, -rc);
        kernel_flags |= flag->kernel_flag;
    }
    return kernel_flags;
}

void set_fixed_attributes(scmp_filter_ctx ctx, size_t syscall_entries) {
    // Optional niceties: an older libseccomp lacking them still gives a working filter.
    // Raw return codes, so that a failed export says what failed.
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
    if (syscall_entries > kBinaryTreeThreshold) (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
}

ErrorOr<std::vector<scmp_arg_cmp>> parse_conditions(const std::vector<spec::SeccompArg>& args,
                                                    const std::string& field) {
    std::vector<scmp_arg_cmp> conditions;
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        const uint32_t* op = lookup(kOperators, arg.op);
        if (!op) return unsupported(field + ".args[" + std::to_string(i) + "].op", arg.op);
        // MASKED_EQ compares (argument & value) with valueTwo: libseccomp takes the mask first, as
        // the runtime-spec orders them. The other operators have one operand.
        auto compare = static_cast<scmp_compare>(*op);
        uint64_t second = compare == SCMP_CMP_MASKED_EQ ? arg.value_two : 0;
        conditions.push_back(scmp_arg_cmp{arg.index, compare, arg.value, second});
    }
    return conditions;
}

bool has_repeated_index(const std::vector<scmp_arg_cmp>& conditions) {
    for (size_t i = 0; i < conditions.size(); ++i)
        for (size_t j = i + 1; j < conditions.size(); ++j)
            if (conditions[i].arg == conditions[j].arg) return true;
    return false;
}

// Adds one syscall's rule(s); returns how many rules went in. seccomp_rule_add_array (not _exact)
// lets libseccomp translate the syscall for every architecture in the filter.
ErrorOr<size_t> add_syscall(scmp_filter_ctx ctx, int syscall_nr, uint32_t action,
                            const std::vector<scmp_arg_cmp>& conditions, const std::string& what) {
    auto add = [&](const scmp_arg_cmp* first, unsigned count) -> ErrorOr<void> {
        int rc = seccomp_rule_add_array(ctx, action, syscall_nr, count, first);
        if (rc < 0) return fail_errno(what + ": adding the rule", -rc);
        return {};
    };
    if (!has_repeated_index(conditions)) {
        TRY(add(conditions.data(), static_cast<unsigned>(conditions.size())));
        return 1;
    }
    // Several conditions on one argument: runc's behaviour, one rule per condition (so any one
    // matching condition triggers the action).
    for (const auto& condition : conditions) TRY(add(&condition, 1));
    return conditions.size();
}

ErrorOr<size_t> add_rule(scmp_filter_ctx ctx, const spec::SeccompSyscall& rule, size_t index,
                         uint32_t default_action) {
    const std::string field = "linux.seccomp.syscalls[" + std::to_string(index) + "]";
    const uint32_t action = TRY(translate_action(rule.action, rule.errno_ret, field + ".action"));
    const auto conditions = TRY(parse_conditions(rule.args, field));
    if (action == default_action) return 0;  // redundant, and libseccomp refuses it
    size_t added = 0;
    for (const auto& name : rule.names) {
        // Unknown here: a syscall of another kernel or architecture. Skipped silently, as runc.
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) continue;
        added += TRY(add_syscall(ctx, nr, action, conditions, field + ": " + name));
    }
    return added;
}

template <size_t N>
std::vector<std::string> names_of(const std::array<Named, N>& table) {
    std::vector<std::string> names;
    for (const auto& entry : table) names.emplace_back(entry.name);
    return names;
}

// libseccomp's API level for each flag (seccomp_api_get(3)): the level at which both the library
// and the running kernel have it.
unsigned api_level_for(std::string_view flag) {
    if (flag == "SECCOMP_FILTER_FLAG_TSYNC") return 2;
    if (flag == "SECCOMP_FILTER_FLAG_LOG") return 3;
    if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return 4;
    return 7;  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
}

}  // namespace

SeccompFeatures seccomp_features() {
    SeccompFeatures features;
    features.actions = names_of(kPlainActions);
    features.actions.insert(features.actions.end(), {"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"});
    features.operators = names_of(kOperators);
    features.architectures = names_of(kArchitectures);
    const unsigned api_level = seccomp_api_get();
    for (const auto& flag : kFlags)
        if (api_level >= api_level_for(flag.name)) features.supported_flags.emplace_back(flag.name);
    const scmp_version* version = seccomp_version();
    features.libseccomp_version = std::to_string(version->major) + "." + std::to_string(version->minor) +
                                  "." + std::to_string(version->micro);
    return features;
}

std::vector<SyscallCeiling> syscall_ceilings(const spec::Seccomp& seccomp) {
    const auto& action = seccomp.default_action;
    if (action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" || action == "SCMP_ACT_TRACE") return {};
    const bool errno_default = action == "SCMP_ACT_ERRNO";
    if (errno_default && seccomp.default_errno_ret.value_or(EPERM) == ENOSYS) return {};
    bool names_clone3 = false;
    for (const auto& rule : seccomp.syscalls)
        names_clone3 |= std::find(rule.names.begin(), rule.names.end(), "clone3") != rule.names.end();

    // The filter's architectures: libseccomp's native one, which every filter has, and the profile's.
    std::vector<uint32_t> tokens{seccomp_arch_native()};
    for (const auto& name : seccomp.architectures) {
        const uint32_t* token = lookup(kArchitectures, name);
        if (token && std::find(tokens.begin(), tokens.end(), *token) == tokens.end())
            tokens.push_back(*token);
    }
    std::vector<SyscallCeiling> ceilings;
    for (uint32_t token : tokens) {
        // Negative: a name this architecture lacks (or reaches only through a multiplexer).
        int highest = -1;
        for (const auto& rule : seccomp.syscalls)
            for (const auto& name : rule.names)
                highest = std::max(highest, seccomp_syscall_resolve_name_arch(token, name.c_str()));
        if (highest < 0) continue;  // the profile says nothing about this architecture
        // SCMP_ARCH_X32 is libseccomp's own token: the kernel reports x32 as x86_64.
        SyscallCeiling ceiling{.audit_arch = token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token,
                               .x32 = token == SCMP_ARCH_X32,
                               .highest = static_cast<uint32_t>(highest),
                               .enosys = {}};
        if (errno_default && !names_clone3) {
            int clone3 = seccomp_syscall_resolve_name_arch(token, "clone3");
            if (clone3 >= 0 && clone3 <= highest) ceiling.enosys.push_back(static_cast<uint32_t>(clone3));
        }
        // s390 passes numbers above 255 through syscall 0, and one the kernel does not know
        // reaches the filter as 0 (runc's finding): no program calls syscall 0 itself.
        if (token == SCMP_ARCH_S390 || token == SCMP_ARCH_S390X) ceiling.enosys.push_back(0);
        ceilings.push_back(std::move(ceiling));
    }
    return ceilings;
}

std::vector<sock_filter> enosys_stub(const std::vector<SyscallCeiling>& ceilings) {
    if (ceilings.empty()) return {};
    constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT
    const auto load = [](uint32_t offset) -> sock_filter {
        return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset);
    };
    const auto jump = [](uint16_t op, uint32_t k) -> sock_filter {
        return BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0);
    };
    std::vector<sock_filter> stub{load(offsetof(seccomp_data, arch))};
    std::vector<size_t> to_program;  // the `ja`s that leave the stub: their k is set at the end

    // One block per architecture, each with its own `ret ENOSYS` so that every conditional jump
    // (8 bits) stays short whatever the number of architectures:
    //   jeq ARCH, 0, <next block>;  ld nr;  [x86_64: jset X32_BIT, <x32 part>]
    //   part: [jeq N, <ret>]...;  jgt HIGHEST, <ret>;  ja <program>
    //   ret ENOSYS
    std::vector<uint32_t> done;
    for (const auto& first : ceilings) {
        const uint32_t arch = first.audit_arch;
        if (std::find(done.begin(), done.end(), arch) != done.end()) continue;
        done.push_back(arch);
        const SyscallCeiling* abi[2] = {nullptr, nullptr};  // [0] the architecture's own, [1] x32
        for (const auto& c : ceilings)
            if (c.audit_arch == arch) abi[c.x32 ? 1 : 0] = &c;

        const size_t block = stub.size();
        stub.push_back(jump(BPF_JEQ, arch));
        stub.push_back(load(offsetof(seccomp_data, nr)));
        // Both ABIs of x86_64 report AUDIT_ARCH_X86_64: x32's numbers are told by their bit, and
        // without an x32 ceiling they go on to the program, which has its own rule for them.
        const bool split = arch == AUDIT_ARCH_X86_64;
        size_t x32_jump = 0;
        if (split) {
            x32_jump = stub.size();
            stub.push_back(jump(BPF_JSET, kX32Bit));
        }
        std::vector<size_t> to_enosys;
        for (int i = 0; i < (split ? 2 : 1); ++i) {
            if (i == 1) stub[x32_jump].jt = static_cast<uint8_t>(stub.size() - x32_jump - 1);
            if (const SyscallCeiling* c = abi[i]) {
                for (uint32_t nr : c->enosys) {
                    to_enosys.push_back(stub.size());
                    stub.push_back(jump(BPF_JEQ, nr));
                }
                to_enosys.push_back(stub.size());
                stub.push_back(jump(BPF_JGT, c->highest));
            }
            to_program.push_back(stub.size());
            stub.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
        }
        const size_t ret = stub.size();
        stub.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
        for (size_t at : to_enosys) stub[at].jt = static_cast<uint8_t>(ret - at - 1);
        stub[block].jf = static_cast<uint8_t>(stub.size() - block - 1);
    }
    // An architecture with no block (one the filter lacks) falls through to the program too.
    for (size_t at : to_program) stub[at].k = static_cast<uint32_t>(stub.size() - at - 1);
    return stub;
}

ErrorOr<SeccompFilter> SeccompFilter::build(const spec::Seccomp& seccomp) {
    const uint32_t default_action = TRY(
        translate_action(seccomp.default_action, seccomp.default_errno_ret, "linux.seccomp.defaultAction"));
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> owned(seccomp_init(default_action), seccomp_release);
    scmp_filter_ctx ctx = owned.get();
    if (!ctx) return fail("linux.seccomp.defaultAction: libseccomp refused " + seccomp.default_action);
    SeccompFilter filter;
    set_fixed_attributes(ctx, seccomp.syscalls.size());
    TRY(add_architectures(ctx, seccomp.architectures));
    filter.flags_ = TRY(set_flags(ctx, seccomp.flags));
    for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
        filter.rule_count_ += TRY(add_rule(ctx, seccomp.syscalls[i], i, default_action));
        if (seccomp.syscalls[i].action == "SCMP_ACT_NOTIFY") filter.notifies_ = true;
    }
    if (filter.notifies_) filter.flags_ |= SECCOMP_FILTER_FLAG_NEW_LISTENER;

    // libseccomp writes its program to an fd; a memfd takes any size without a reader (a pipe
    // could fill up), and the program lands after the stub without another copy.
    filter.program_ = enosys_stub(syscall_ceilings(seccomp));
    UniqueFd memfd(::memfd_create("hutch-seccomp", MFD_CLOEXEC));
    if (!memfd) return fail_errno("linux.seccomp: memfd_create for the filter's program");
    if (int rc = seccomp_export_bpf(ctx, memfd.get()); rc < 0)
        return fail_errno("linux.seccomp: generating the filter's program", -rc);
    const off_t size = ::lseek(memfd.get(), 0, SEEK_CUR);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        return fail("linux.seccomp: libseccomp generated a program of " + std::to_string(size) + " bytes");
    const size_t stub_length = filter.program_.size();
    filter.program_.resize(stub_length + static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(memfd.get(), filter.program_.data() + stub_length, static_cast<size_t>(size), 0) != size)
        return fail_errno("linux.seccomp: reading the filter's program back");
    if (filter.program_.size() > BPF_MAXINSNS) {
        return fail("linux.seccomp: the filter is " + std::to_string(filter.program_.size()) +
                    " BPF instructions, above the kernel's " + std::to_string(BPF_MAXINSNS));
    }
    return filter;
}

ErrorOr<UniqueFd> SeccompFilter::load() const { return load_seccomp_program(program_, flags_); }

}  // namespace hutch::security
