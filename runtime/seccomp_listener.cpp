#include "runtime/seccomp_listener.h"

#include "runtime/unix_socket.h"

namespace hutch::runtime {

nlohmann::ordered_json listener_message(const spec::Seccomp& seccomp, const nlohmann::ordered_json& state,
                                        pid_t pid) {
    return {{"ociVersion", spec::kOciVersion},
            {"fds", {"seccompFd"}},
            {"pid", pid},
            {"metadata", seccomp.listener_metadata},
            {"state", state}};
}

ErrorOr<void> send_to_seccomp_listener(const spec::Seccomp& seccomp, const nlohmann::ordered_json& state,
                                       pid_t pid, int listener_fd) {
    std::string message =
        listener_message(seccomp, state, pid).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return send_fd_over_socket(seccomp.listener_path, message, listener_fd, "linux.seccomp.listenerPath");
}

}  // namespace hutch::runtime
