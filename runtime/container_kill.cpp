// `kill`: a signal to the container's first process, or with --all to every process in its cgroups.
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <map>

#include "cgroups/manager.h"
#include "runtime/create_internal.h"

namespace hutch::runtime {

ErrorOr<int> parse_signal(const std::string& text) {
    static const std::map<std::string, int> names = {
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
        {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
        {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
    };
    if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
        // 0 sends nothing and only checks that the process is there, as kill(2) does.
        int n = std::atoi(text.c_str());
        if (n < 0 || n >= NSIG) return fail("invalid signal: " + text);
        return n;
    }
    std::string name = text;
    for (auto& c : name) c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    if (auto it = names.find(name); it != names.end()) return it->second;
    // Real-time signals: RTMIN, RTMIN+N, RTMAX-N.
    if (name.rfind("RTMIN", 0) == 0) {
        int n = name.size() > 6 && name[5] == '+' ? std::atoi(name.c_str() + 6) : 0;
        if (SIGRTMIN + n <= SIGRTMAX) return SIGRTMIN + n;
    }
    if (name.rfind("RTMAX", 0) == 0) {
        int n = name.size() > 6 && name[5] == '-' ? std::atoi(name.c_str() + 6) : 0;
        if (SIGRTMAX - n >= SIGRTMIN) return SIGRTMAX - n;
    }
    return fail("invalid signal: " + text);
}

ErrorOr<void> kill(const std::string& root, const std::string& id, int signal, bool all) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    if (status != Status::created && status != Status::running && status != Status::paused)
        return fail("cannot kill container " + id + ": container not running");
    auto cgroups = cgroups::manager_from_paths(container.state.cgroup_paths);
    if (all) {
        TRY(cgroups->signal_all(signal));
    } else {
        UniqueFd pidfd = open_container_pidfd(container.state);
        if (!pidfd) return fail("cannot kill container " + id + ": container not running");
        // By pidfd, so that a pid reused since the check cannot receive the signal.
        if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0)
            return fail_errno("kill container " + id);
    }
    // cgroup v1's freezer holds a frozen process even from SIGKILL until it is thawed: a paused
    // container that is killed is thawed, as runc does (other signals leave it paused).
    if (signal == SIGKILL && status == Status::paused) TRY_CTX(cgroups->thaw(), "kill container " + id);
    return {};
}

}  // namespace hutch::runtime
