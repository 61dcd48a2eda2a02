// linux.seccomp -> a libseccomp filter, built in the parent, loaded by the child. What the
// profile may say is the config.json parser's rule (spec/parse_seccomp.cpp): this translates it,
// and refuses only what this libseccomp or the running kernel cannot do.
// Behaviour follows runc where the runtime-spec leaves room: unknown syscall names are skipped
// (profiles list syscalls of other kernels and architectures), rules whose action is the default
// action are skipped (libseccomp refuses them), and several conditions on the same argument are
// split into one rule each (libseccomp refuses them in one rule).
#include <seccomp.h>

#include <array>
#include <cerrno>
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

// The filter flags libseccomp exposes as attributes. SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV arrived
// in libseccomp 2.6 (and only matters with SCMP_ACT_NOTIFY, which hutch refuses anyway).
constexpr std::array kFlags {
    Named{"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
        Named{"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
        Named{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
        Named{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SCMP_FLTATR_CTL_WAITKILL},
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

ErrorOr<void> set_flags(scmp_filter_ctx ctx, const std::vector<std::string>& flags) {
    for (const auto& name : flags) {
        const uint32_t* attr = lookup(kFlags, name);
        if (!attr) return unsupported("linux.seccomp.flags", name);
        // Fails when the running kernel lacks the flag (libseccomp asks it).
        int rc = seccomp_attr_set(ctx, static_cast<scmp_filter_attr>(*attr), 1);
        if (rc < 0) return fail_errno("linux.seccomp.flags: " + name, -rc);
    }
    return {};
}

// Attributes every filter gets, whatever the config says.
ErrorOr<void> set_fixed_attributes(scmp_filter_ctx ctx, size_t syscall_entries) {
    // The runtime sets no_new_privs itself, only when process.noNewPrivileges asks for it.
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (rc < 0) return fail_errno("linux.seccomp: clearing the no_new_privs attribute", -rc);
    // Both below are optional niceties: an older libseccomp lacking them still gives a working filter.
    // Raw kernel return codes, so that a failed load says what the kernel refused.
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
    if (syscall_entries > kBinaryTreeThreshold) (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    return {};
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

ErrorOr<SeccompFilter> SeccompFilter::build(const spec::Seccomp& seccomp) {
    const uint32_t default_action = TRY(
        translate_action(seccomp.default_action, seccomp.default_errno_ret, "linux.seccomp.defaultAction"));
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) return fail("linux.seccomp.defaultAction: libseccomp refused " + seccomp.default_action);
    SeccompFilter filter(ctx);  // owns ctx from here, on every return path
    TRY(set_fixed_attributes(ctx, seccomp.syscalls.size()));
    TRY(add_architectures(ctx, seccomp.architectures));
    TRY(set_flags(ctx, seccomp.flags));
    for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
        filter.rule_count_ += TRY(add_rule(ctx, seccomp.syscalls[i], i, default_action));
        if (seccomp.syscalls[i].action == "SCMP_ACT_NOTIFY") filter.notifies_ = true;
    }
    return filter;
}

ErrorOr<void> SeccompFilter::load() const {
    int rc = seccomp_load(static_cast<scmp_filter_ctx>(ctx_));
    if (rc < 0) return fail_errno("linux.seccomp: loading the filter", -rc);
    return {};
}

ErrorOr<int> SeccompFilter::listener_fd() const {
    int fd = seccomp_notify_fd(static_cast<scmp_filter_ctx>(ctx_));
    if (fd < 0) return fail_errno("linux.seccomp: the filter's listener fd", -fd);
    return fd;
}

SeccompFilter::SeccompFilter(SeccompFilter&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), rule_count_(other.rule_count_), notifies_(other.notifies_) {}

SeccompFilter& SeccompFilter::operator=(SeccompFilter&& other) noexcept {
    if (this != &other) {
        if (ctx_) seccomp_release(static_cast<scmp_filter_ctx>(ctx_));
        ctx_ = std::exchange(other.ctx_, nullptr);
        rule_count_ = other.rule_count_;
        notifies_ = other.notifies_;
    }
    return *this;
}

SeccompFilter::~SeccompFilter() {
    if (ctx_) seccomp_release(static_cast<scmp_filter_ctx>(ctx_));
}

}  // namespace hutch::security
