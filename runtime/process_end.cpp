#include "runtime/process_end.h"

#include <sys/wait.h>

#include <cerrno>

namespace hutch::runtime {

bool is_forwarded_signal(int signal) { return signal != SIGCHLD && signal != SIGWINCH && signal != SIGPIPE; }

int exit_status(const siginfo_t& info) {
    return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

int wait_exit_status(int pidfd) {
    siginfo_t info = {};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) == -1 && errno == EINTR) {
    }
    return exit_status(info);
}

}  // namespace hutch::runtime
