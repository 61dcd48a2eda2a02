#include "microvm/host/exec_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace hutch::microvm::host {
namespace {

constexpr const char* socket_name = "exec.sock";

struct Address {
    UniqueFd dir;  // held while the address is used: the address names it
    sockaddr_un address{};
};

ErrorOr<Address> address_in(const std::string& state_dir) {
    Address a;
    a.dir.reset(::open(state_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!a.dir) return fail_errno("open " + state_dir);
    std::string path = "/proc/self/fd/" + std::to_string(a.dir.get()) + "/" + socket_name;
    a.address.sun_family = AF_UNIX;
    std::memcpy(a.address.sun_path, path.c_str(), path.size() + 1);
    return a;
}

ErrorOr<UniqueFd> unix_socket() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno("socket");
    return fd;
}

}  // namespace

ErrorOr<ExecListener> ExecListener::listen(const std::string& state_dir) {
    auto [dir, address] = TRY(address_in(state_dir));
    ExecListener listener;
    listener.path_ = state_dir + "/" + socket_name;
    ::unlinkat(dir.get(), socket_name, 0);
    UniqueFd fd = TRY(unix_socket());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        return fail_errno("bind " + listener.path_);
    listener.fd_ = std::move(fd);  // from here on, the destructor unlinks it
    if (::fchmodat(dir.get(), socket_name, 0600, 0) != 0) return fail_errno("chmod " + listener.path_);
    if (::listen(listener.fd_.get(), 16) != 0) return fail_errno("listen " + listener.path_);
    return listener;
}

ExecListener::~ExecListener() {
    if (fd_) ::unlink(path_.c_str());
}

ErrorOr<UniqueFd> connect_exec_socket(const std::string& state_dir) {
    auto [dir, address] = TRY(address_in(state_dir));
    UniqueFd fd = TRY(unix_socket());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        return fail_errno("connect to the container's exec socket");
    return fd;
}

}  // namespace hutch::microvm::host
