// The seccomp filter's share of a container start: SeccompFilter::build (the parent, before
// clone), its -ENOSYS stub alone (syscall_ceilings + enosys_stub, part of build), and load (a
// forked child, as the container's process does), each the median of N runs. The profile is
// podman's default (/usr/share/containers/seccomp.json, Docker's in all but its errno), every
// rule taken as it is (includes/excludes ignored), on x86_64, x86 and x32 as Docker's archMap
// gives them. Its default errno is ENOSYS, for which there is no stub: pass 1 (EPERM, Docker's).
// Build and run, as root, from the repository root:
//   g++ -std=c++23 -O2 -I. bench/seccomp_filter.cpp runtime/seccomp.cpp -lseccomp -o /tmp/seccomp-filter
//   /tmp/seccomp-filter [N=500] [defaultErrnoRet]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/security.h"
using namespace hutch;
using Clock = std::chrono::steady_clock;
static double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}
int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 500;
    std::ifstream in("/usr/share/containers/seccomp.json");
    auto j = nlohmann::json::parse(in);
    spec::Seccomp s;
    s.default_action = j["defaultAction"];
    if (j.contains("defaultErrnoRet")) s.default_errno_ret = j["defaultErrnoRet"].get<uint32_t>();
    if (argc > 2) {
        s.default_errno_ret = atoi(argv[2]);
    }
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    for (auto& r : j["syscalls"]) {
        spec::SeccompSyscall sc;
        sc.names = r["names"].get<std::vector<std::string>>();
        sc.action = r["action"];
        if (r.contains("errnoRet")) sc.errno_ret = r["errnoRet"].get<uint32_t>();
        for (auto& a : r.value("args", nlohmann::json::array()))
            sc.args.push_back({a["index"], a["value"], a.value("valueTwo", 0ull), a["op"]});
        s.syscalls.push_back(sc);
    }
    std::vector<double> build, load, stub;
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto st = security::enosys_stub(security::syscall_ceilings(s));
        auto t1 = Clock::now();
        if (st.empty()) return 1;
        stub.push_back(us(t1 - t0));
    }
    printf("stub (ceilings + stub) median %.1f us\n", median(stub));

    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto f = security::SeccompFilter::build(s);
        auto t1 = Clock::now();
        if (!f) {
            fprintf(stderr, "%s\n", f.error().message.c_str());
            return 1;
        }
        build.push_back(us(t1 - t0));
        int p[2];
        if (pipe(p)) return 1;
        pid_t pid = fork();
        if (pid == 0) {
            auto a = Clock::now();
            auto r = f->load();
            auto b = Clock::now();
            double d = r ? us(b - a) : -1;
            (void)!write(p[1], &d, sizeof d);
            _exit(0);
        }
        double d;
        (void)!read(p[0], &d, sizeof d);
        close(p[0]);
        close(p[1]);
        waitpid(pid, nullptr, 0);
        if (d < 0) {
            fprintf(stderr, "load failed\n");
            return 1;
        }
        load.push_back(d);
    }
    std::vector<double> total(n);
    for (int i = 0; i < n; ++i) total[i] = build[i] + load[i];
    printf("n=%d build median %.1f us, load median %.1f us, build+load median %.1f us\n", n, median(build),
           median(load), median(total));
}
