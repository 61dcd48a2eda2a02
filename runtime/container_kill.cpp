// `kill`: a signal to the container's first process, or with --all to every process in its cgroups.
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string_view>

#include "runtime/backend.h"

namespace hutch::runtime {
namespace {

// The digits of a signal's number or offset, and nothing else: no sign, no overflow.
std::optional<int> small_number(std::string_view digits) {
    int n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits.front())) || ec != std::errc() ||
        end != digits.data() + digits.size())
        return std::nullopt;
    return n;
}

}  // namespace

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
        auto n = small_number(text);
        if (!n || *n >= NSIG) return fail("invalid signal: " + text);
        return *n;
    }
    std::string name = text;
    for (auto& c : name) c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    if (auto it = names.find(name); it != names.end()) return it->second;
    // Real-time signals: RTMIN, RTMIN+N, RTMAX-N.
    if (name.rfind("RTMIN", 0) == 0) {
        auto n = name.size() == 5 ? 0 : name[5] == '+' ? small_number(name.substr(6)) : std::nullopt;
        if (n && SIGRTMIN + *n <= SIGRTMAX) return SIGRTMIN + *n;
    }
    if (name.rfind("RTMAX", 0) == 0) {
        auto n = name.size() == 5 ? 0 : name[5] == '-' ? small_number(name.substr(6)) : std::nullopt;
        if (n && SIGRTMAX - *n >= SIGRTMIN) return SIGRTMAX - *n;
    }
    return fail("invalid signal: " + text);
}

ErrorOr<void> kill(const std::string& root, const std::string& id, int signal, bool all) {
    auto container = TRY(Container::open(root, id));
    Status status = container.status();
    if (status != Status::created && status != Status::running && status != Status::paused)
        return fail("cannot kill container " + id + ": container not running");
    TRY(backend_of(container.state).signal(container, status, signal, all));
    return {};
}

}  // namespace hutch::runtime
