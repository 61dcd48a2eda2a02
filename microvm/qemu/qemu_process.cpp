#include "microvm/qemu/qemu_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "microvm/agent/protocol.h"

namespace hutch::microvm::qemu {

namespace {

// QEMU's option parser splits at commas; a comma in a value is written twice.
std::string escape_option(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',') out += ',';
    }
    return out;
}

bool cpu_has_hardware_virtualisation() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("flags")) continue;
        std::istringstream flags(line);
        std::string flag;
        while (flags >> flag)
            if (flag == "vmx" || flag == "svm") return true;
        return false;
    }
    return false;
}

// The host's TSC rate in kHz, from /proc/cpuinfo's "cpu MHz" (0 when it is not there).
long host_tsc_khz() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("cpu MHz")) continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) return 0;
        return std::lround(std::strtod(line.c_str() + colon + 1, nullptr) * 1000);
    }
    return 0;
}

std::string kernel_command_line(const QemuVm& vm) {
    // panic=-1 and reboot=t: a panic reboots at once, and -no-reboot turns that into QEMU's exit.
    std::string line = "console=ttyS0 quiet panic=-1 reboot=t";
    if (vm.accel == "tcg") {
        // microvm has no PIT-calibrated HPET or PM timer, so under TCG the kernel cannot measure
        // the TSC, and hangs without a clock. TCG's TSC counts at the host's rate: say it, and
        // that it is reliable (one counter for every vCPU).
        long khz = host_tsc_khz();
        line += " tsc=reliable tsc_early_khz=" + std::to_string(khz > 0 ? khz : 2000000);
    }
    return line;
}

void add_chardev_port(std::vector<std::string>& argv, const std::string& id, int fd, std::string_view name) {
    argv.insert(argv.end(), {"-chardev", "socket,id=" + id + ",fd=" + std::to_string(fd), "-device",
                             "virtserialport,chardev=" + id + ",name=" + std::string(name)});
}

// In the forked child: QEMU's fds and signals, then exec; no allocation (the fork may have
// copied another thread's lock on the heap). Never returns.
[[noreturn]] void exec_qemu(char* const* argv, const QemuVm& vm, pid_t parent) {
    // Dies with hutch, whatever kills hutch; if hutch died before this, at once.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(vm.console_fd, 1) < 0 || ::dup2(vm.console_fd, 2) < 0)
        ::_exit(125);
    // Only the three sockets pass to QEMU, whatever the caller left open without O_CLOEXEC.
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd : {vm.control_fd, vm.stdin_fd, vm.console_fd}) ::fcntl(fd, F_SETFD, 0);
    ::execvp(argv[0], argv);
    ::_exit(127);
}

}  // namespace

ErrorOr<std::string> choose_accel() {
    if (const char* forced = std::getenv("HUTCH_VM_ACCEL"); forced && *forced) {
        std::string accel = forced;
        if (accel != "kvm" && accel != "tcg")
            return fail("HUTCH_VM_ACCEL: expected kvm or tcg, got " + accel);
        return accel;
    }
    UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    return kvm && cpu_has_hardware_virtualisation() ? std::string("kvm") : std::string("tcg");
}

std::vector<std::string> qemu_command_line(const QemuVm& vm) {
    std::vector<std::string> argv = {"qemu-system-x86_64",
                                     "-M",
                                     "microvm",
                                     "-accel",
                                     vm.accel,
                                     "-cpu",
                                     vm.accel == "kvm" ? "host" : "max",
                                     "-smp",
                                     "1",
                                     "-m",
                                     std::to_string(vm.memory_mib),
                                     "-nodefaults",
                                     "-no-user-config",
                                     "-display",
                                     "none",
                                     "-no-reboot",
                                     "-chardev",
                                     "socket,id=console,fd=" + std::to_string(vm.console_fd),
                                     "-serial",
                                     "chardev:console",
                                     "-kernel",
                                     vm.kernel,
                                     "-initrd",
                                     vm.initramfs,
                                     "-append",
                                     kernel_command_line(vm),
                                     "-device",
                                     "virtio-serial-device"};
    add_chardev_port(argv, "control", vm.control_fd, control_port_name);
    add_chardev_port(argv, "stdin", vm.stdin_fd, stdin_port_name);
    for (size_t i = 0; i < vm.layers.size(); ++i) {
        std::string id = "layer" + std::to_string(i);
        argv.insert(
            argv.end(),
            {"-drive", "if=none,id=" + id + ",format=raw,readonly=on,file=" + escape_option(vm.layers[i]),
             "-device",
             "virtio-blk-device,drive=" + id + ",serial=" + std::string(layer_serial_prefix) +
                 std::to_string(i)});
    }
    return argv;
}

ErrorOr<QemuProcess> QemuProcess::start(const QemuVm& vm) {
    auto argv = qemu_command_line(vm);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) exec_qemu(args.data(), vm, parent);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    QemuProcess process(pid, std::move(pidfd));
    if (!process.pidfd_) return fail_errno("pidfd_open");  // the destructor kills it
    return process;
}

int QemuProcess::kill() {
    if (pid_ < 0) return -1;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
}

int QemuProcess::reap() {
    if (pid_ < 0) return -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace hutch::microvm::qemu
