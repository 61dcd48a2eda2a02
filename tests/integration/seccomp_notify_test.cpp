// SCMP_ACT_NOTIFY: hutch-oci hands each filter's listener fd, with the container's state, to the
// agent at linux.seccomp.listenerPath; the agent written here answers for the container, and its
// answers are seen from inside. The same agent holds an exec'd process at a syscall it makes
// before its program runs, to attack it there (CVE-2019-5736).
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace hutch::test;

namespace {

// A seccomp agent: takes the listener fd and state of each connection, then answers every
// notification: mkdir and mkdirat succeed without making anything; any other call goes on, after
// on_call (if set) has seen it.
class SeccompAgent {
public:
    // connection: 0 for the first listener fd received, 1 for the next...; pid on the host.
    using OnCall = std::function<void(size_t connection, const std::string& syscall, pid_t pid)>;

    explicit SeccompAgent(OnCall on_call = {}) : dir_("hutch-test-agent"), on_call_(std::move(on_call)) {
        listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path().c_str());
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_, 4) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0)
            throw std::runtime_error("seccomp agent: " + std::string(std::strerror(errno)));
        thread_ = std::thread([this] { serve(); });
    }
    ~SeccompAgent() {
        (void)!::write(wake_[1], "x", 1);
        thread_.join();
        for (int fd : notify_fds_) ::close(fd);
        for (int fd : {listener_, wake_[0], wake_[1]}) ::close(fd);
    }
    SeccompAgent(const SeccompAgent&) = delete;
    SeccompAgent& operator=(const SeccompAgent&) = delete;

    std::string path() const { return dir_.path() + "/agent.sock"; }
    // The messages that came with the fds, parsed.
    std::vector<nlohmann::json> messages() {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    std::vector<std::string> answered() {
        std::lock_guard lock(mutex_);
        return answered_;
    }

private:
    void serve() {
        for (;;) {
            std::vector<struct pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
            for (int fd : notify_fds_) fds.push_back({fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 10000) < 0 && errno != EINTR) return;
            if (fds[0].revents) return;
            if (fds[1].revents & POLLIN) accept_one();
            for (size_t i = 2; i < fds.size(); ++i)
                if (fds[i].revents & POLLIN) answer(i - 2, fds[i].fd);
        }
    }

    void accept_one() {
        int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) return;
        auto [text, fd] = receive_fd(conn);
        if (fd >= 0) notify_fds_.push_back(fd);
        char buf[4096];
        for (ssize_t n; (n = ::read(conn, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
        ::close(conn);
        std::lock_guard lock(mutex_);
        messages_.push_back(nlohmann::json::parse(text, nullptr, false));
    }

    void answer(size_t connection, int fd) {
        struct seccomp_notif* req = nullptr;
        struct seccomp_notif_resp* resp = nullptr;
        if (seccomp_notify_alloc(&req, &resp) != 0) return;
        if (seccomp_notify_receive(fd, req) == 0) {
            char* name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
            std::string syscall = name ? name : std::to_string(req->data.nr);
            std::free(name);
            resp->id = req->id;
            if (syscall == "mkdir" || syscall == "mkdirat") {
                resp->val = 0;
                resp->error = 0;
                resp->flags = 0;
            } else {
                if (on_call_) on_call_(connection, syscall, static_cast<pid_t>(req->pid));
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            }
            (void)seccomp_notify_respond(fd, resp);
            std::lock_guard lock(mutex_);
            answered_.push_back(syscall);
        }
        seccomp_notify_free(req, resp);
    }

    TempDir dir_;
    OnCall on_call_;
    int listener_ = -1;
    int wake_[2] = {-1, -1};
    std::vector<int> notify_fds_;
    std::mutex mutex_;
    std::vector<nlohmann::json> messages_;
    std::vector<std::string> answered_;
    std::thread thread_;
};

nlohmann::json notifying_profile(const std::vector<std::string>& names, const std::string& listener) {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"listenerPath", listener},
            {"listenerMetadata", "agent-test"},
            {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_NOTIFY"}}}}};
}

// The last field of /proc/PID/status's NSpid: the pid in its own pid namespace.
std::string pid_inside(pid_t pid) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("NSpid:")) return line.substr(line.find_last_of(" \t") + 1);
    return "";
}

}  // namespace

TEST_CASE("seccomp notify: the agent gets the fd and the state, and answers mkdir for the container",
          "[seccomp-notify]") {
    SeccompAgent agent;
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args(
        {"sh", "-c", "mkdir /tmp/made && echo mkdir-ok; test -d /tmp/made && echo exists || echo absent"});
    bundle.config["linux"]["seccomp"] = notifying_profile({"mkdir", "mkdirat"}, agent.path());
    bundle.save();
    auto r = rt({"run", "--bundle", bundle.path(), id});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "mkdir-ok\nabsent\n");
    auto messages = agent.messages();
    REQUIRE(messages.size() == 1);
    CHECK(messages[0]["fds"] == nlohmann::json({"seccompFd"}));
    CHECK(messages[0]["metadata"] == "agent-test");
    CHECK(messages[0]["pid"].get<int>() > 0);
    CHECK(messages[0]["state"]["id"] == id);
    CHECK(messages[0]["state"]["bundle"] == bundle.path());
    auto answered = agent.answered();
    CHECK(std::count(answered.begin(), answered.end(), "mkdir") +
              std::count(answered.begin(), answered.end(), "mkdirat") ==
          1);
}

TEST_CASE("seccomp notify: an exec'd process hands its own listener fd to the agent", "[seccomp-notify]") {
    SeccompAgent agent;
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args({"sleep", "1000"});
    bundle.config["linux"]["seccomp"] = notifying_profile({"mkdir", "mkdirat"}, agent.path());
    bundle.save();
    REQUIRE(rt({"run", "--detach", "--bundle", bundle.path(), id}).status == 0);
    auto r = rt({"exec", id, "sh", "-c", "mkdir /made && echo mkdir-ok; test -d /made || echo absent"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "mkdir-ok\nabsent\n");
    CHECK(agent.messages().size() == 2);
}

TEST_CASE("seccomp notify: a listenerPath nobody listens on fails create clearly", "[seccomp-notify]") {
    Bundle bundle;
    Runtime rt;
    TempDir nowhere;
    bundle.set_args({"true"});
    bundle.config["linux"]["seccomp"] = notifying_profile({"mkdir"}, nowhere.path() + "/none.sock");
    bundle.save();
    auto r = rt({"run", "--bundle", bundle.path(), unique_id()});
    CHECK(r.status != 0);
    CHECK(r.err.find("linux.seccomp.listenerPath: connect " + nowhere.path() + "/none.sock") !=
          std::string::npos);
    CHECK(rt({"list", "-q"}).out.empty());
}

// CVE-2019-5736: until it execs the container's program, an exec'd process is hutch-oci. The
// agent holds one at setgroups (its user switch) and the container's first process, root with
// every capability in the container's user namespace, tries to open it through /proc/PID/exe.
TEST_CASE("CVE-2019-5736: an exec'd process cannot be opened through /proc/PID/exe before it execs",
          "[attack][seccomp-notify]") {
    TempDir shared;
    ::chmod(shared.path().c_str(), 0777);
    std::atomic<bool> attacked = false;
    SeccompAgent agent([&](size_t connection, const std::string& syscall, pid_t pid) {
        if (connection != 1 || syscall != "setgroups" || attacked.exchange(true)) return;
        { std::ofstream(shared.path() + "/trigger.tmp") << pid_inside(pid) << "\n"; }
        ::rename((shared.path() + "/trigger.tmp").c_str(), (shared.path() + "/trigger").c_str());
        for (int i = 0; i < 250 && read_text(shared.path() + "/result").empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
    Bundle bundle;
    Runtime rt;
    std::string id = unique_id();
    bundle.set_args({"sh", "-c",
                     "while [ ! -s /tmp/trigger ]; do sleep 0.05; done; "
                     "if cat /proc/$(cat /tmp/trigger)/exe > /dev/null 2>&1; then echo opened > /tmp/result; "
                     "else echo refused > /tmp/result; fi; sleep 1000"});
    auto& linux_ = bundle.config["linux"];
    linux_["namespaces"].push_back({{"type", "user"}});
    linux_["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    linux_["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    linux_["seccomp"] = notifying_profile({"setgroups"}, agent.path());
    bundle.config["mounts"].push_back(
        {{"destination", "/tmp"}, {"type", "bind"}, {"source", shared.path()}, {"options", {"rbind", "rw"}}});
    nlohmann::json all = nlohmann::json::array();
    for (int cap = 0; cap <= 40; ++cap) {
        char* name = cap_to_name(cap);
        std::string upper = name;
        cap_free(name);
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        all.push_back(upper);
    }
    for (const char* set : {"bounding", "effective", "permitted"})
        bundle.config["process"]["capabilities"][set] = all;
    bundle.save();
    auto run = rt({"run", "--detach", "--bundle", bundle.path(), id});
    INFO(run.err);
    REQUIRE(run.status == 0);
    auto exec = rt({"exec", id, "true"});
    INFO(exec.err);
    CHECK(exec.status == 0);
    CHECK(attacked);
    CHECK(read_text(shared.path() + "/result") == "refused");
}
