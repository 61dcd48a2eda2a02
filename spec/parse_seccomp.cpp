// config.json's "linux.seccomp": the filter, checked against the names libseccomp understands
// so that the runtime (runtime/seccomp.cpp) only has to translate, never to judge.
#include <algorithm>
#include <array>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

using json::Json;

constexpr std::array<std::string_view, 9> kActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",       "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

constexpr std::array<std::string_view, 7> kOperators = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                                        "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                                        "SCMP_CMP_MASKED_EQ"};

constexpr std::array<std::string_view, 23> kArchitectures = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB"};

constexpr std::array<std::string_view, 4> kFlags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

// Each argument to the kernel's seccomp_data.args: there are six.
constexpr unsigned kMaxSyscallArgs = 6;

template <size_t N>
bool contains(const std::array<std::string_view, N>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

ErrorOr<std::string> read_action(const Json& value, const std::string& path, const char* key) {
    auto action = TRY(json::require<std::string>(value, path, key));
    if (!contains(kActions, action))
        return fail(json::field_path(path, key) + ": unknown action \"" + action + "\"");
    return action;
}

template <size_t N>
ErrorOr<void> read_names(const Json& value, const std::string& path, const char* key,
                         const std::array<std::string_view, N>& known, const char* what,
                         std::vector<std::string>& out) {
    TRY(json::read(value, path, key, out));
    for (size_t i = 0; i < out.size(); ++i) {
        if (!contains(known, out[i])) {
            return fail(json::index_path(json::field_path(path, key), i) + ": unknown " + what + " \"" +
                        out[i] + "\"");
        }
    }
    return {};
}

// errnoRet is the data of SCMP_ACT_ERRNO and SCMP_ACT_TRACE, which is 16 bits: a larger one would
// be cut silently, and on another action it would mean nothing.
ErrorOr<void> check_errno_ret(const std::string& action, std::optional<uint32_t> errno_ret,
                              const std::string& path) {
    if (!errno_ret) return {};
    if (action != "SCMP_ACT_ERRNO" && action != "SCMP_ACT_TRACE")
        return fail(path + ": only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno");
    if (*errno_ret > 0xffff) return fail(path + ": " + std::to_string(*errno_ret) + " is above 65535");
    return {};
}

ErrorOr<SeccompArg> parse_arg(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    SeccompArg arg;
    arg.index = TRY(json::require<unsigned>(value, path, "index"));
    if (arg.index >= kMaxSyscallArgs) return fail(path + ".index: must be less than 6");
    arg.value = TRY(json::require<uint64_t>(value, path, "value"));
    TRY(json::read(value, path, "valueTwo", arg.value_two));
    arg.op = TRY(json::require<std::string>(value, path, "op"));
    if (!contains(kOperators, arg.op)) return fail(path + ".op: unknown operator \"" + arg.op + "\"");
    return arg;
}

ErrorOr<SeccompSyscall> parse_syscall(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    SeccompSyscall syscall;
    syscall.names = TRY(json::require<std::vector<std::string>>(value, path, "names"));
    if (syscall.names.empty()) return fail(path + ".names: must not be empty");
    for (size_t i = 0; i < syscall.names.size(); ++i) {
        if (syscall.names[i].empty())
            return fail(json::index_path(path + ".names", i) + ": must not be empty");
    }
    syscall.action = TRY(read_action(value, path, "action"));
    TRY(json::read(value, path, "errnoRet", syscall.errno_ret));
    TRY(check_errno_ret(syscall.action, syscall.errno_ret, path + ".errnoRet"));
    TRY(json::read_list(value, path, "args", syscall.args, parse_arg));
    return syscall;
}

// SCMP_ACT_NOTIFY hands a syscall to the listener at listenerPath, which answers for the kernel.
// As the default action it would hand over every syscall, the runtime's own first (runc refuses it).
ErrorOr<void> check_notify(const Seccomp& seccomp, const std::string& path) {
    if (seccomp.default_action == "SCMP_ACT_NOTIFY")
        return fail(path + ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    bool notifies = false;
    for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
        const SeccompSyscall& rule = seccomp.syscalls[i];
        if (rule.action != "SCMP_ACT_NOTIFY") continue;
        notifies = true;
        // The runtime hands the listener fd over with sendmsg once the filter is loaded: notified,
        // it would wait for an agent that has no fd yet (runc refuses write for the same reason).
        if (std::ranges::find(rule.names, "sendmsg") != rule.names.end())
            return fail(json::index_path(path + ".syscalls", i) +
                        ": SCMP_ACT_NOTIFY cannot be used for sendmsg, which hands the listener fd over");
    }
    if (notifies && seccomp.listener_path.empty())
        return fail(path + ".listenerPath: required when an action is SCMP_ACT_NOTIFY");
    if (!seccomp.listener_path.empty()) TRY(check_absolute(seccomp.listener_path, path + ".listenerPath"));
    return {};
}

}  // namespace

ErrorOr<Seccomp> parse_seccomp(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    Seccomp seccomp;
    TRY(json::read(value, path, "listenerPath", seccomp.listener_path));
    TRY(json::read(value, path, "listenerMetadata", seccomp.listener_metadata));
    seccomp.default_action = TRY(read_action(value, path, "defaultAction"));
    TRY(json::read(value, path, "defaultErrnoRet", seccomp.default_errno_ret));
    TRY(read_names(value, path, "architectures", kArchitectures, "architecture", seccomp.architectures));
    TRY(read_names(value, path, "flags", kFlags, "flag", seccomp.flags));
    TRY(json::read_list(value, path, "syscalls", seccomp.syscalls, parse_syscall));
    TRY(check_notify(seccomp, path));
    TRY(check_errno_ret(seccomp.default_action, seccomp.default_errno_ret, path + ".defaultErrnoRet"));
    return seccomp;
}

}  // namespace hutch::spec::detail

namespace hutch::spec {

std::vector<std::string> known_seccomp_flags() { return {detail::kFlags.begin(), detail::kFlags.end()}; }

}  // namespace hutch::spec
