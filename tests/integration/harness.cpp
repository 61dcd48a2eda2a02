#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace hutch::test {

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        close(err[0]);
        return {127, "", "spawn failed: " + argv[0]};
    }
    // Feed stdin and drain both pipes until the command exits. A created container inherits
    // the pipes and holds them open, so their end of file cannot be what we wait for.
    CommandResult result;
    size_t written = 0;
    int in_fd = in[1];
    if (stdin_data.empty()) {
        close(in_fd);
        in_fd = -1;
    }
    signal(SIGPIPE, SIG_IGN);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    auto drain = [&](int& fd, std::string& into) {
        char buf[4096];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof buf)) != 0) {
            if (n < 0) return;
            into.append(buf, static_cast<size_t>(n));
        }
        if (fd >= 0) close(fd);
        fd = -1;  // end of file
    };
    for (;;) {
        struct pollfd fds[4] = {
            {out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in_fd, POLLOUT, 0}, {pidfd, POLLIN, 0}};
        if (poll(fds, 4, -1) < 0) continue;
        drain(out[0], result.out);
        drain(err[0], result.err);
        if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in_fd, stdin_data.data() + written, stdin_data.size() - written);
            if (n > 0) written += static_cast<size_t>(n);
            if (n < 0 || written == stdin_data.size()) {
                close(in_fd);
                in_fd = -1;
            }
        }
        if (fds[3].revents & POLLIN) break;
    }
    drain(out[0], result.out);
    drain(err[0], result.err);
    for (int fd : {out[0], err[0], in_fd, pidfd})
        if (fd >= 0) close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

CommandResult shell(const std::string& command_line) { return run_command({"/bin/sh", "-c", command_line}); }

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    // Reachable by a container's root in a user namespace, who is not the host's root.
    chmod(tmpl.c_str(), 0755);
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

const std::string& busybox_rootfs() {
    static std::once_flag once;
    static std::string path;
    std::call_once(once, [] {
        // Built once for a whole ctest run (tests/CMakeLists.txt's fixture), which removes it at
        // the end; a test binary run by hand builds its own.
        if (const char* shared = std::getenv("HUTCH_TEST_ROOTFS");
            shared && std::filesystem::is_directory(std::string(shared) + "/bin")) {
            path = shared;
            return;
        }
        path = "/tmp/hutch-test-rootfs-" + std::to_string(getpid());
        auto r = run_command({HUTCH_SOURCE_DIR "/examples/busybox/make-rootfs.sh", path});
        if (r.status != 0) throw std::runtime_error("make-rootfs.sh failed: " + r.err);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        });
    });
    return path;
}

Bundle::Bundle() : dir_("hutch-test-bundle") {
    auto r = run_command({"cp", "-a", busybox_rootfs(), rootfs()});
    if (r.status != 0) throw std::runtime_error("copying the rootfs failed: " + r.err);
    r = run_command({HUTCH_OCI_BINARY, "spec", "--bundle", path()});
    if (r.status != 0) throw std::runtime_error("hutch-oci spec failed: " + r.err);
    std::ifstream in(path() + "/config.json");
    config = nlohmann::json::parse(in);
}

void Bundle::set_args(const std::vector<std::string>& args) {
    config["process"]["args"] = args;
    config["process"]["terminal"] = false;
}

void Bundle::save() const {
    std::ofstream out(path() + "/config.json");
    out << config.dump(2);
}

CommandResult run_script(Bundle& bundle, const std::string& script) {
    Runtime rt;
    bundle.set_args({"sh", "-c", script});
    bundle.save();
    return rt({"run", "--bundle", bundle.path(), unique_id()});
}

std::string hutch_oci_command(const Runtime& rt) {
    return std::string(HUTCH_OCI_BINARY) + " --root " + rt.root();
}

Runtime::Runtime(std::vector<std::string> global_flags)
    : root_("hutch-test-root"), global_flags_(std::move(global_flags)) {}

Runtime::~Runtime() {
    auto list = (*this)({"list", "--format", "json"});
    if (list.status == 0 && !list.out.empty()) {
        auto containers = nlohmann::json::parse(list.out, nullptr, false);
        if (containers.is_array())
            for (const auto& c : containers) (*this)({"delete", "--force", c.value("id", "")});
    }
}

CommandResult Runtime::operator()(const std::vector<std::string>& args, const std::string& stdin_data) const {
    std::vector<std::string> argv = {HUTCH_OCI_BINARY, "--root", root()};
    argv.insert(argv.end(), global_flags_.begin(), global_flags_.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, stdin_data);
}

nlohmann::json Runtime::state(const std::string& id) const {
    auto r = (*this)({"state", id});
    if (r.status != 0) return nlohmann::json::object();
    return nlohmann::json::parse(r.out, nullptr, false);
}

ConsoleSocket::ConsoleSocket() : dir_("hutch-test-console") {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path().c_str());
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 1) != 0)
        throw std::runtime_error("console socket: " + std::string(std::strerror(errno)));
}

ConsoleSocket::~ConsoleSocket() { ::close(listener_); }

int ConsoleSocket::receive_master() {
    struct pollfd pfd = {listener_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::chrono::milliseconds(kPatience).count())) != 1) return -1;
    int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    int master = receive_fd(conn).fd;
    ::close(conn);
    return master;
}

ReceivedFd receive_fd(int conn) {
    char buf[65536];
    struct iovec iov = {buf, sizeof buf};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ReceivedFd received;
    ssize_t n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return received;
    received.payload.assign(buf, static_cast<size_t>(n));
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_type == SCM_RIGHTS) std::memcpy(&received.fd, CMSG_DATA(cmsg), sizeof received.fd);
    return received;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

std::string wait_for_status(const Runtime& rt, const std::string& id, const std::string& want) {
    std::string status;
    eventually([&] { return (status = rt.state(id).value("status", "")) == want; });
    return status;
}

std::string read_until(int fd, const std::string& needle) {
    std::string output;
    char buf[256];
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (output.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (::poll(&pfd, 1, 100) <= 0) continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        output.append(buf, static_cast<size_t>(n));
    }
    return output;
}

std::string unique_id(const std::string& stem) {
    static std::atomic<int> counter{0};
    return stem + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

bool path_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

bool process_alive(pid_t pid) {
    if (pid <= 0 || kill(pid, 0) != 0) return false;
    // A zombie has exited: only its parent's wait is missing (this sandbox's init reaps late).
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

std::vector<std::string> host_mounts_matching(const std::string& needle) {
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos) lines.push_back(line);
    return lines;
}

std::vector<pid_t> processes_mentioning(const std::string& needle) {
    std::vector<pid_t> found;
    std::error_code ec;  // a process that ends meanwhile is not an error
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream cmdline(entry.path() / "cmdline");
        std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
        if (text.find(needle) != std::string::npos && std::stoi(name) != getpid())
            found.push_back(std::stoi(name));
    }
    return found;
}

}  // namespace hutch::test
