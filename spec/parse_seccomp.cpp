// config.json's "linux.seccomp": the filter, checked against the names libseccomp understands
// so that the runtime only has to translate, never to judge.
#include <algorithm>
#include <array>

#include "spec/parse_internal.h"

namespace hutch::spec::detail {
namespace {

using json::Json;

constexpr std::array<std::string_view, 8> kActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",       "SCMP_ACT_ALLOW",        "SCMP_ACT_LOG"};

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
    // The notify action hands syscalls to a listener over a socket: not implemented yet.
    if (action == "SCMP_ACT_NOTIFY")
        return fail(json::field_path(path, key) + ": SCMP_ACT_NOTIFY is not supported yet");
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
    syscall.action = TRY(read_action(value, path, "action"));
    TRY(json::read(value, path, "errnoRet", syscall.errno_ret));
    TRY(json::read_list(value, path, "args", syscall.args, parse_arg));
    return syscall;
}

}  // namespace

ErrorOr<Seccomp> parse_seccomp(const Json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    TRY(json::refuse_if_set(value, path, "listenerPath"));
    TRY(json::refuse_if_set(value, path, "listenerMetadata"));
    Seccomp seccomp;
    seccomp.default_action = TRY(read_action(value, path, "defaultAction"));
    TRY(json::read(value, path, "defaultErrnoRet", seccomp.default_errno_ret));
    TRY(read_names(value, path, "architectures", kArchitectures, "architecture", seccomp.architectures));
    TRY(read_names(value, path, "flags", kFlags, "flag", seccomp.flags));
    TRY(json::read_list(value, path, "syscalls", seccomp.syscalls, parse_syscall));
    return seccomp;
}

}  // namespace hutch::spec::detail

namespace hutch::spec {

std::vector<std::string> known_seccomp_flags() { return {detail::kFlags.begin(), detail::kFlags.end()}; }

}  // namespace hutch::spec
