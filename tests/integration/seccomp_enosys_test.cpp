// The -ENOSYS stub (runtime/security.h) seen from inside a container: under a deny-by-default
// profile, a syscall newer than every one the profile names gets ENOSYS, so that a libc falls back
// to the old call, while an old syscall the profile leaves out still gets the default errno.
// raw-syscall (tests/helpers) makes the calls by number, which busybox cannot.
#include <sys/syscall.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "harness.h"

using namespace hutch::test;

namespace {

// What busybox sh, raw-syscall (static glibc) and hutch-oci's last steps before execve call, on
// x86_64 and aarch64 (names a kernel lacks are skipped): nothing newer than close_range (436),
// the highest named. Left out: clone3 (435), faccessat2 (439), mkdirat.
nlohmann::json deny_by_default_profile(nlohmann::json extra_rules = nlohmann::json::array()) {
    nlohmann::json allowed = {"read",
                              "write",
                              "readv",
                              "writev",
                              "pread64",
                              "open",
                              "openat",
                              "close",
                              "close_range",
                              "stat",
                              "fstat",
                              "lstat",
                              "newfstatat",
                              "statx",
                              "lseek",
                              "poll",
                              "ppoll",
                              "mmap",
                              "mprotect",
                              "munmap",
                              "mremap",
                              "madvise",
                              "brk",
                              "rt_sigaction",
                              "rt_sigprocmask",
                              "rt_sigreturn",
                              "sigaltstack",
                              "ioctl",
                              "access",
                              "faccessat",
                              "pipe",
                              "pipe2",
                              "dup",
                              "dup2",
                              "dup3",
                              "fcntl",
                              "getpid",
                              "getppid",
                              "gettid",
                              "getuid",
                              "geteuid",
                              "getgid",
                              "getegid",
                              "getpgrp",
                              "getpgid",
                              "setpgid",
                              "setsid",
                              "getcwd",
                              "chdir",
                              "readlink",
                              "readlinkat",
                              "uname",
                              "umask",
                              "getrlimit",
                              "prlimit64",
                              "getrandom",
                              "clock_gettime",
                              "clock_nanosleep",
                              "nanosleep",
                              "futex",
                              "arch_prctl",
                              "set_tid_address",
                              "set_robust_list",
                              "rseq",
                              "prctl",
                              "capget",
                              "capset",
                              "setgroups",
                              "setresuid",
                              "setresgid",
                              "clone",
                              "fork",
                              "vfork",
                              "execve",
                              "wait4",
                              "kill",
                              "tgkill",
                              "exit",
                              "exit_group",
                              "getdents64",
                              "sysinfo",
                              "sched_getaffinity"};
    nlohmann::json rules = {{{"names", allowed}, {"action", "SCMP_ACT_ALLOW"}}};
    for (auto& rule : extra_rules) rules.push_back(rule);
    return {{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", rules}};
}

// Runs sh -c script in a container with raw-syscall at /bin/raw-syscall.
CommandResult run_with_helper(const nlohmann::json& profile, const std::string& script) {
    Bundle bundle;
    auto copy = run_command({"cp", HUTCH_RAW_SYSCALL_BINARY, bundle.rootfs() + "/bin/raw-syscall"});
    REQUIRE(copy.status == 0);
    bundle.config["linux"]["seccomp"] = profile;
    bundle.set_args({"sh", "-c", script});
    bundle.save();
    Runtime rt;
    return rt({"run", "--bundle", bundle.path(), unique_id()});
}

std::string answer(long nr, int err) { return std::to_string(nr) + "=" + std::to_string(err) + "\n"; }

}  // namespace

TEST_CASE("seccomp: a syscall newer than the profile gets ENOSYS, an old one it leaves out EPERM",
          "[seccomp]") {
    // faccessat2 and an unassigned number are above close_range; mkdirat is old.
    auto r = run_with_helper(deny_by_default_profile(), "raw-syscall " + std::to_string(SYS_faccessat2) +
                                                            " 1000 " + std::to_string(SYS_mkdirat));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == answer(SYS_faccessat2, ENOSYS) + answer(1000, ENOSYS) + answer(SYS_mkdirat, EPERM));
}

TEST_CASE("seccomp: clone3, below the profile's highest but not named, gets ENOSYS, and busybox still forks",
          "[seccomp]") {
    // The command substitution forks (busybox: fork, i.e. clone).
    auto r = run_with_helper(deny_by_default_profile(),
                             "raw-syscall " + std::to_string(SYS_clone3) + "; echo $(echo forked)");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == answer(SYS_clone3, ENOSYS) + "forked\n");

    // Named, even with the default action itself, clone3 is the profile's to answer.
    r = run_with_helper(deny_by_default_profile({{{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}}}),
                        "raw-syscall " + std::to_string(SYS_clone3));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == answer(SYS_clone3, EPERM));
}
