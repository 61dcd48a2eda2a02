#include "microvm/host/vmm_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hutch::microvm::host {

namespace {

// In the forked child: the VMM's fds and signals, then exec; no allocation (the fork may have
// copied another thread's lock on the heap). Never returns.
[[noreturn]] void exec_vmm(char* const* argv, const VmSpec& vm, pid_t parent) {
    // Dies with hutch, whatever kills hutch; if hutch died before this, at once.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(vm.console_fd, 1) < 0 || ::dup2(vm.console_fd, 2) < 0)
        ::_exit(125);
    // Only the three sockets pass to the VMM, whatever the caller left open without O_CLOEXEC.
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd : {vm.control_fd, vm.stdin_fd, vm.console_fd}) ::fcntl(fd, F_SETFD, 0);
    ::execvp(argv[0], argv);
    ::_exit(127);
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

}  // namespace

ErrorOr<VmmProcess> VmmProcess::start(const VmSpec& vm) {
    auto argv = TRY(vmm_command_line(vm));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) exec_vmm(args.data(), vm, parent);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    VmmProcess process(pid, std::move(pidfd));
    if (!process.pidfd_) return fail_errno("pidfd_open");  // the destructor kills it
    return process;
}

int VmmProcess::kill() {
    if (pid_ < 0) return -1;
    ::kill(pid_, SIGKILL);
    int status = wait_for(pid_);
    pid_ = -1;
    return status;
}

int VmmProcess::reap() {
    if (pid_ < 0) return -1;
    int status = wait_for(pid_);
    pid_ = -1;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace hutch::microvm::host
