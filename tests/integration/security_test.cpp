// runtime/security.h against the real kernel: filters, capabilities, user switch and rlimits are
// prepared here (as the runtime's parent does) and applied in a forked child (as the container's
// child does), which checks what the kernel then says and reports through its exit status.
// Needs root. A child never returns into Catch: it always leaves with _exit.
#include "runtime/security.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

using namespace hutch;
using hutch::security::SeccompFilter;

namespace {

struct ChildResult {
    int status = 0;       // as waitpid gives it
    std::string message;  // what the child wrote to explain a failure
};

// The child's end of the report pipe; set in the child only.
int g_report_fd = -1;

// In the child: records why a check failed, and returns the exit code that says so.
int report(const std::string& message) {
    if (g_report_fd >= 0) (void)!write(g_report_fd, message.data(), message.size());
    return 1;
}

// Forks; the child runs body and _exits with its result (0: every check passed).
ChildResult in_child(const std::function<int()>& body) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        g_report_fd = fds[1];
        // A SIGSYS kill would otherwise leave a core file behind.
        struct rlimit no_core {};
        setrlimit(RLIMIT_CORE, &no_core);
        int code = 2;
        try {
            code = body();
        } catch (...) {
            code = report("exception in child");
        }
        _exit(code);
    }
    close(fds[1]);
    ChildResult result;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) result.message.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    REQUIRE(waitpid(pid, &result.status, 0) == pid);
    return result;
}

// "" when the child passed every check, else what it said (and how it ended): for CHECK(... == "").
std::string child_failure(const ChildResult& result) {
    if (WIFEXITED(result.status) && WEXITSTATUS(result.status) == 0) return "";
    return "child failed (wait status " + std::to_string(result.status) + "): " + result.message;
}

spec::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                          std::optional<uint32_t> errno_ret, std::vector<spec::SeccompArg> args = {}) {
    spec::SeccompSyscall syscall;
    syscall.names = std::move(names);
    syscall.action = std::move(action);
    syscall.errno_ret = errno_ret;
    syscall.args = std::move(args);
    return syscall;
}

SeccompFilter build_allowing_all_but(std::vector<spec::SeccompSyscall> rules) {
    spec::Seccomp seccomp;
    seccomp.default_action = "SCMP_ACT_ALLOW";
    seccomp.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    seccomp.syscalls = std::move(rules);
    auto filter = SeccompFilter::build(seccomp);
    INFO((filter ? "" : filter.error().message));
    REQUIRE(filter.has_value());
    return std::move(*filter);
}

// In the child: -1 and this errno, or a report saying what happened instead.
int expect_errno(long rc, int expected, const std::string& what) {
    if (rc == -1 && errno == expected) return 0;
    return report(what + ": returned " + std::to_string(rc) + ", errno " + std::to_string(errno) +
                  ", expected errno " + std::to_string(expected));
}

// "CapEff" -> its mask from /proc/self/status.
uint64_t status_mask(const std::string& key) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with(key + ":")) return std::stoull(line.substr(key.size() + 1), nullptr, 16);
    return ~uint64_t{0};
}

uint64_t bit(int cap) { return uint64_t{1} << cap; }

// In the child: removes one capability from the effective and permitted sets, so that a test
// behaves the same on hosts where root has it and hosts where it does not.
bool give_up(cap_value_t cap) {
    cap_t state = cap_get_proc();
    bool ok = state && cap_set_flag(state, CAP_EFFECTIVE, 1, &cap, CAP_CLEAR) == 0 &&
              cap_set_flag(state, CAP_PERMITTED, 1, &cap, CAP_CLEAR) == 0 && cap_set_proc(state) == 0;
    cap_free(state);
    return ok;
}

}  // namespace

TEST_CASE("seccomp: an errno rule fails the call with that errno, and only that call", "[security]") {
    REQUIRE(geteuid() == 0);
    auto filter = build_allowing_all_but({rule({"mkdir"}, "SCMP_ACT_ERRNO", ENOSYS)});
    const std::string path = "/tmp/hutch-seccomp-" + std::to_string(getpid());
    auto result = in_child([&] {
        if (auto loaded = filter.load(); !loaded) return report(loaded.error().message);
        if (int rc = expect_errno(syscall(SYS_mkdir, path.c_str(), 0700), ENOSYS, "mkdir")) return rc;
        if (syscall(SYS_getpid) != getpid()) return report("getpid failed under the filter");
        return 0;
    });
    CHECK(child_failure(result) == "");
    CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("seccomp: a kill rule kills the process with SIGSYS", "[security]") {
    REQUIRE(geteuid() == 0);
    for (const char* action : {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"}) {
        INFO(action);
        auto filter = build_allowing_all_but({rule({"uname"}, action, std::nullopt)});
        auto result = in_child([&] {
            if (auto loaded = filter.load(); !loaded) return report(loaded.error().message);
            syscall(SYS_uname, static_cast<void*>(nullptr));  // killed on entry, before EFAULT
            return report("uname returned");
        });
        INFO("child says: " << result.message);
        REQUIRE(WIFSIGNALED(result.status));
        CHECK(WTERMSIG(result.status) == SIGSYS);
    }
}

TEST_CASE("seccomp: argument conditions select the calls a rule applies to", "[security]") {
    REQUIRE(geteuid() == 0);
    using Arg = spec::SeccompArg;
    auto filter = build_allowing_all_but({
        // Two conditions on argument 0: split into two rules, so either value is refused.
        rule({"personality"}, "SCMP_ACT_ERRNO", EACCES,
             {Arg{0, 0x1234, 0, "SCMP_CMP_EQ"}, Arg{0, 0x5678, 0, "SCMP_CMP_EQ"}}),
        // MASKED_EQ: refused when every bit of 0700 is set in the new umask.
        rule({"umask"}, "SCMP_ACT_ERRNO", EINVAL, {Arg{0, 0700, 0700, "SCMP_CMP_MASKED_EQ"}}),
    });
    auto result = in_child([&] {
        if (auto loaded = filter.load(); !loaded) return report(loaded.error().message);
        if (syscall(SYS_personality, 0xffffffff) == -1) return report("personality query refused");
        if (int rc = expect_errno(syscall(SYS_personality, 0x1234), EACCES, "personality(0x1234)")) return rc;
        if (int rc = expect_errno(syscall(SYS_personality, 0x5678), EACCES, "personality(0x5678)")) return rc;
        if (syscall(SYS_personality, PER_LINUX) == -1) return report("personality(PER_LINUX) refused");
        if (int rc = expect_errno(syscall(SYS_umask, 0777), EINVAL, "umask(0777)")) return rc;
        if (syscall(SYS_umask, 0077) == -1) return report("umask(0077) refused");
        return 0;
    });
    CHECK(child_failure(result) == "");
}

TEST_CASE("capabilities: after the user switch the process holds exactly the plan", "[security]") {
    REQUIRE(geteuid() == 0);
    spec::Capabilities caps;
    caps.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"};
    caps.permitted = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
    caps.effective = {"CAP_KILL", "CAP_NET_BIND_SERVICE"};
    caps.inheritable = {"CAP_NET_BIND_SERVICE"};
    caps.ambient = {"CAP_NET_BIND_SERVICE"};
    auto plan = security::prepare_capabilities(caps);
    REQUIRE(plan.has_value());
    spec::User user{.uid = 1000, .gid = 1000, .umask = 027, .additional_gids = {1001, 1002}};
    auto result = in_child([&]() -> int {
        if (auto r = security::drop_bounding_set(*plan); !r) return report(r.error().message);
        if (auto r = security::switch_user(user); !r) return report(r.error().message);
        if (auto r = security::apply_capabilities(*plan); !r) return report(r.error().message);
        uid_t ruid, euid, suid;
        getresuid(&ruid, &euid, &suid);
        if (ruid != 1000 || euid != 1000 || suid != 1000) return report("uids not all 1000");
        if (getgid() != 1000 || getegid() != 1000) return report("gids not 1000");
        gid_t groups[8];
        int n = getgroups(8, groups);
        if (n != 2 || groups[0] != 1001 || groups[1] != 1002) return report("supplementary groups wrong");
        if (umask(0) != 027) return report("umask not 027");
        const uint64_t bounding =
            bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_NET_RAW);
        const uint64_t permitted = bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
        const uint64_t effective = bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
        const uint64_t inheritable = bit(CAP_NET_BIND_SERVICE);
        const uint64_t ambient = bit(CAP_NET_BIND_SERVICE);
        if (status_mask("CapBnd") != bounding) return report("CapBnd wrong");
        if (status_mask("CapPrm") != permitted) return report("CapPrm wrong");
        if (status_mask("CapEff") != effective) return report("CapEff wrong");
        if (status_mask("CapInh") != inheritable) return report("CapInh wrong");
        if (status_mask("CapAmb") != ambient) return report("CapAmb wrong");
        return 0;
    });
    CHECK(child_failure(result) == "");
}

TEST_CASE("capabilities: absent capabilities leave none at all", "[security]") {
    REQUIRE(geteuid() == 0);
    auto plan = security::prepare_capabilities(std::nullopt);
    REQUIRE(plan.has_value());
    auto result = in_child([&]() -> int {
        if (auto r = security::drop_bounding_set(*plan); !r) return report(r.error().message);
        spec::User user;
        user.uid = user.gid = 1000;
        if (auto r = security::switch_user(user); !r) return report(r.error().message);
        if (auto r = security::apply_capabilities(*plan); !r) return report(r.error().message);
        for (const char* key : {"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"})
            if (status_mask(key) != 0) return report(std::string(key) + " not empty");
        return 0;
    });
    CHECK(child_failure(result) == "");
}

TEST_CASE("capabilities: a capability the runtime lacks is refused before clone", "[security]") {
    REQUIRE(geteuid() == 0);
    spec::Capabilities caps;
    caps.bounding = caps.permitted = caps.effective = {"CAP_KILL", "CAP_SYS_RESOURCE"};
    auto plan = security::prepare_capabilities(caps);
    REQUIRE(plan.has_value());
    auto result = in_child([&]() -> int {
        if (!give_up(CAP_SYS_RESOURCE)) return report("could not drop CAP_SYS_RESOURCE");
        auto checked = security::check_capabilities_available(*plan);
        if (checked) return report("check passed");
        const std::string expected =
            "process.capabilities: CAP_SYS_RESOURCE not in the runtime's own permitted set";
        if (checked.error().message != expected) return report(checked.error().message);
        return 0;
    });
    CHECK(child_failure(result) == "");
}

TEST_CASE("rlimits: applied limits are what getrlimit then reports", "[security]") {
    // Both below the limits the child inherits, so that setting them needs no privilege.
    auto plan = security::prepare_rlimits({{"RLIMIT_NOFILE", 100, 200}, {"RLIMIT_MSGQUEUE", 4096, 8192}});
    REQUIRE(plan.has_value());
    auto result = in_child([&]() -> int {
        if (auto r = security::apply_rlimits(*plan); !r) return report(r.error().message);
        struct Expected {
            __rlimit_resource resource;
            const char* name;
            rlim_t soft, hard;
        };
        for (const Expected& want : std::array{Expected{RLIMIT_NOFILE, "NOFILE", 100, 200},
                                               Expected{RLIMIT_MSGQUEUE, "MSGQUEUE", 4096, 8192}}) {
            struct rlimit seen {};
            getrlimit(want.resource, &seen);
            if (seen.rlim_cur != want.soft || seen.rlim_max != want.hard)
                return report(std::string(want.name) + " is " + std::to_string(seen.rlim_cur) + "/" +
                              std::to_string(seen.rlim_max));
        }
        return 0;
    });
    CHECK(child_failure(result) == "");
}

TEST_CASE("rlimits: the parent can apply them to a waiting child", "[security]") {
    auto plan = security::prepare_rlimits({{"RLIMIT_NOFILE", 64, 128}});
    REQUIRE(plan.has_value());
    int go[2];
    REQUIRE(pipe2(go, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char byte;
        close(go[1]);
        _exit(read(go[0], &byte, 1) == 1 ? 0 : 1);
    }
    close(go[0]);
    auto applied = security::apply_rlimits(*plan, pid);
    struct rlimit seen {};
    prlimit(pid, RLIMIT_NOFILE, nullptr, &seen);
    (void)!write(go[1], "x", 1);
    close(go[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    INFO((applied ? "" : applied.error().message));
    REQUIRE(applied.has_value());
    CHECK(seen.rlim_cur == 64);
    CHECK(seen.rlim_max == 128);
}

TEST_CASE("rlimits: a hard limit above the host's is a one-line error", "[security]") {
    REQUIRE(geteuid() == 0);
    struct rlimit host {};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &host) == 0);
    REQUIRE(host.rlim_max < 1000000);
    const rlim_t wanted = host.rlim_max + 1000;
    auto plan = security::prepare_rlimits({{"RLIMIT_NOFILE", 1024, wanted}});
    REQUIRE(plan.has_value());
    const std::string expected = "process.rlimits: RLIMIT_NOFILE: hard limit " + std::to_string(wanted) +
                                 " is above the host's hard limit " + std::to_string(host.rlim_max);
    auto result = in_child([&]() -> int {
        // Without CAP_SYS_RESOURCE, as on hosts whose bounding set lacks it.
        if (!give_up(CAP_SYS_RESOURCE)) return report("could not drop CAP_SYS_RESOURCE");
        auto checked = security::check_rlimits_allowed(*plan);
        if (checked || checked.error().message != expected)
            return report("check: " + (checked ? std::string("passed") : checked.error().message));
        auto applied = security::apply_rlimits(*plan);
        if (applied || applied.error().message != expected)
            return report("apply: " + (applied ? std::string("passed") : applied.error().message));
        return 0;
    });
    CHECK(child_failure(result) == "");
}
