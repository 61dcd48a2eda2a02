// A container's process in a QEMU microVM (microvm/host/, microvm/agent/), through hutch-vm-run:
// a busybox image's layer from the layer store as an erofs disk, hutch's guest kernel, hutch-agent
// as PID 1, and stdin, stdout, stderr, the exit status and signals across the VM boundary. Each
// test boots a VM (about 2 s under TCG), so the tag is hidden: tests/CMakeLists.txt lists them on
// their own, after the guest kernel is built. No QEMU, temporary directory or mount outlives one.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/file.h"
#include "harness.h"
#include "hutch_command.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_layout.h"
#include "microvm/host/vm_size.h"
#include "microvm_support.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// A busybox image imported into a store of the test's own, its layer unpacked: what a VM runs.
class VmImage {
public:
    VmImage() {
        TestImage image = busybox_image(nlohmann::json::object());
        auto content = hutch::images::ContentStore::open(dir_.path() + "/store");
        REQUIRE(content);
        auto images = hutch::images::ImageStore::open(dir_.path() + "/store");
        REQUIRE(images);
        REQUIRE(hutch::images::import_oci_layout(*content, *images, image.dir.path()));
        auto layers = hutch::images::LayerStore::open(*content);
        REQUIRE(layers);
        auto lowers = layers->prepare_image(hutch::images::parse_digest(image.manifest_digest).value());
        INFO((lowers ? "" : lowers.error().message));
        REQUIRE(lowers);
        for (const auto& lower : *lowers) lowers_ += (lowers_.empty() ? "" : ":") + lower;
    }
    ~VmImage() {
        // Whatever the test did, no QEMU of this store is left (a failed CHECK still ends here).
        for (pid_t pid : processes_mentioning(dir_.path())) ::kill(pid, SIGKILL);
    }

    // hutch-vm-run's command line for args (its flags, then -- and the command).
    std::vector<std::string> command(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {HUTCH_VM_RUN_BINARY, kernel_, HUTCH_AGENT_BINARY,
                                         dir_.path() + "/vm", lowers_};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }
    CommandResult run(const std::vector<std::string>& args, const std::string& stdin_data = "") const {
        return run_command(command(args), stdin_data);
    }
    const std::string& dir() const { return dir_.path(); }

private:
    TempDir dir_{"hutch-test-microvm"};
    std::string kernel_ = guest_kernel();
    std::string lowers_;
};

}  // namespace

TEST_CASE("microvm: a process's stdout and exit status cross the VM boundary", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    auto hello = image.run({"--", "echo", "hello"});
    INFO(hello.err);
    CHECK(hello.status == 0);
    CHECK(hello.out == "hello\n");

    auto seven = image.run({"--", "sh", "-c", "echo to-stderr >&2; exit 7"});
    INFO(seven.err);
    CHECK(seven.status == 7);
    CHECK(seven.out.empty());
    CHECK(seven.err == "to-stderr\n");
    CHECK(processes_mentioning(image.dir()).empty());
    CHECK(host_mounts_matching(image.dir()).empty());
}

TEST_CASE("microvm: stdin piped to cat comes back whole", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    std::string input;
    for (int i = 0; i < 20000; ++i) input += "line " + std::to_string(i) + "\n";  // 228 KiB: many frames
    auto cat = image.run({"--", "cat"}, input);
    INFO(cat.err);
    CHECK(cat.status == 0);
    CHECK(cat.out.size() == input.size());
    CHECK(cat.out == input);
}

TEST_CASE("microvm: the process gets its args, env, cwd, user and hostname", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    auto r = image.run({"--env", "GREETING=hi there", "--cwd", "/tmp", "--user", "1000:1001", "--hostname",
                        "vmbox", "--", "sh", "-c",
                        "echo \"$GREETING|$(pwd)|$(id -u):$(id -g)|$(hostname)|$1\"", "sh", "an arg"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "hi there|/tmp|1000:1001|vmbox|an arg\n");

    // A command the image does not have is an error of the run, not an exit status.
    auto missing = image.run({"--", "no-such-command"});
    CHECK(missing.status == 125);
    CHECK(missing.err.find("exec no-such-command") != std::string::npos);
}

TEST_CASE("microvm: a signal sent to hutch reaches the process: SIGTERM ends sleep with 143",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    RunningVm vm(image.command({"--", "sh", "-c", "echo ready; exec sleep 100"}));
    REQUIRE(vm.read_until("ready\n") == "ready\n");
    REQUIRE(::kill(vm.pid, SIGTERM) == 0);
    CHECK(vm.wait() == 143);
    CHECK(processes_mentioning(image.dir()).empty());
}

TEST_CASE("microvm: QEMU dies with the process that started it", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    RunningVm vm(image.command({"--", "sh", "-c", "echo ready; exec sleep 100"}));
    REQUIRE(vm.read_until("ready\n") == "ready\n");
    REQUIRE(processes_mentioning(image.dir()).size() == 2);  // hutch-vm-run and its QEMU
    REQUIRE(::kill(vm.pid, SIGKILL) == 0);
    vm.wait();
    // PR_SET_PDEATHSIG: the kernel kills QEMU at once; reaping it (by init) takes a moment.
    for (int i = 0; i < 50 && !processes_mentioning(image.dir()).empty(); ++i) ::usleep(100 * 1000);
    CHECK(processes_mentioning(image.dir()).empty());
}

namespace {

// A store of the test's own holding the busybox image as localhost/bb:1, and the guest kernel:
// what each `hutch run --vm` case starts from.
struct BusyboxStore {
    TestImage image;
    TempDir root;
    std::string kernel = guest_kernel();
    explicit BusyboxStore(const nlohmann::json& config = nlohmann::json::object())
        : image(busybox_image(config)) {
        check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), "localhost/bb:1"}));
    }
};

}  // namespace

TEST_CASE("microvm: hutch run --vm runs an image's process in a microVM", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store({{"Env", {"FROM_IMAGE=yes"}}, {"WorkingDir", "/etc"}});
    const TempDir& root = store.root;
    const std::string& kernel = store.kernel;

    auto r =
        hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", kernel, "-e", "FROM_FLAG=too", "-u", "1000",
                         "localhost/bb:1", "sh", "-c",
                         "echo $FROM_IMAGE $FROM_FLAG $(pwd) $(id -u) $$ $(cut -d: -f3 /proc/self/cgroup) "
                         "$(cat /proc/[0-9]*/comm | grep -c hutch-agent); exit 3"});
    INFO(r.err);
    CHECK(r.status == 3);
    // In its own pid and cgroup namespaces inside the VM: PID 1, at its cgroup's root, and the
    // agent out of sight.
    CHECK(r.out == "yes too /etc 1000 1 / 0\n");

    // -i hands stdin over; without it the process's stdin is empty, as docker makes it.
    auto interactive =
        hutch_cmd(root, {"run", "-i", "--vm", "--vm-kernel", kernel, "localhost/bb:1", "cat"}, "in\n");
    CHECK(interactive.out == "in\n");
    auto not_interactive =
        hutch_cmd(root, {"run", "--vm", "--vm-kernel", kernel, "localhost/bb:1", "cat"}, "in\n");
    CHECK(not_interactive.status == 0);
    CHECK(not_interactive.out.empty());

    check_one_line_failure(hutch_cmd(
        root, {"run", "--vm", "--vm-kernel", kernel, "--network", "host", "localhost/bb:1", "true"}));
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

TEST_CASE("microvm: hutch run --vm -it gives the process a pty of the caller's size, joined to the caller's",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    // One boot: what the process's terminal is, a line typed into the test's terminal, a resize of
    // it (waited for: it crosses on the control port, the line on the stdin port), an exit status.
    std::string script =
        "tty; stty size; test -t 0 && test -t 1 && echo is-a-tty; echo ready; read line; echo got:$line; "
        "for i in $(seq 300); do s=$(stty size); [ \"$s\" = '30 90' ] && break; sleep 0.1; done; "
        "echo resized:$s; exit 7";
    RunningVm vm(
        {HUTCH_BINARY, "--storage-root", root.path() + "/storage", "--runroot", root.path() + "/run", "run",
         "--rm", "-it", "--vm", "--vm-kernel", store.kernel, "localhost/bb:1", "sh", "-c", script},
        winsize{.ws_row = 45, .ws_col = 123, .ws_xpixel = 0, .ws_ypixel = 0});
    std::string shown = vm.read_until("ready");
    INFO(shown);
    REQUIRE(shown.find("ready") != std::string::npos);
    CHECK(shown.find("/dev/pts/") != std::string::npos);
    CHECK(shown.find("45 123\r\n") != std::string::npos);
    CHECK(shown.find("is-a-tty") != std::string::npos);

    // The caller's terminal is raw meanwhile: keys go to the guest's pty as typed (Enter is \r).
    termios during{};
    REQUIRE(::tcgetattr(vm.tty, &during) == 0);
    CHECK((during.c_lflag & (ICANON | ECHO)) == 0);
    REQUIRE(::write(vm.out, "hello\r", 6) == 6);
    CHECK(vm.read_until("got:hello").find("got:hello") != std::string::npos);
    winsize resized{.ws_row = 30, .ws_col = 90, .ws_xpixel = 0, .ws_ypixel = 0};
    REQUIRE(::ioctl(vm.out, TIOCSWINSZ, &resized) == 0);  // SIGWINCH to hutch, its foreground
    CHECK(vm.read_until("resized:30 90").find("resized:30 90") != std::string::npos);
    CHECK(vm.wait_within(std::chrono::seconds(120)) == 7);

    termios after{};
    REQUIRE(::tcgetattr(vm.tty, &after) == 0);
    CHECK(after.c_lflag == vm.tty_before.c_lflag);
    CHECK(after.c_iflag == vm.tty_before.c_iflag);
    CHECK(after.c_oflag == vm.tty_before.c_oflag);
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

namespace {

// Whether this CPU has hardware virtualisation, read here apart from microvm/vmm_choice.cpp.
bool cpu_has_vmx_or_svm() { return shell("grep -qwE 'vmx|svm' /proc/cpuinfo").status == 0; }

}  // namespace

TEST_CASE("microvm: --debug says which VMM runs the VM and why, and --vmm picks one", "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    const std::string& kernel = store.kernel;
    bool hardware = cpu_has_vmx_or_svm() && ::access("/dev/kvm", R_OK | W_OK) == 0;

    auto r =
        hutch_cmd(root, {"--debug", "run", "--rm", "--vm", "--vm-kernel", kernel, "localhost/bb:1", "true"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains(hardware ? "hutch: microVM on the builtin VMM: /dev/kvm has hardware"
                                               : "hutch: microVM on QEMU with TCG: /dev/kvm"));
    auto quiet = hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", kernel, "localhost/bb:1", "true"});
    CHECK(quiet.status == 0);
    CHECK(quiet.err.empty());

    auto qemu = hutch_cmd(root, {"--debug", "run", "--rm", "--vm", "--vmm=qemu", "--vm-kernel", kernel,
                                 "localhost/bb:1", "sh", "-c", "exit 4"});
    INFO(qemu.err);
    CHECK(qemu.status == 4);
    CHECK_THAT(qemu.err, Catch::Contains(std::string("hutch: microVM on QEMU with ") +
                                         (hardware ? "KVM" : "TCG") + ": --vmm=qemu"));

    if (!hardware) {
        auto builtin = hutch_cmd(
            root, {"run", "--rm", "--vm", "--vmm=builtin", "--vm-kernel", kernel, "localhost/bb:1", "true"});
        check_one_line_failure(builtin);
        CHECK_THAT(builtin.err, Catch::Contains("--vmm=builtin: /dev/kvm"));
    }
    auto bogus = hutch_cmd(
        root, {"run", "--rm", "--vm", "--vmm=firecracker", "--vm-kernel", kernel, "localhost/bb:1", "true"});
    check_one_line_failure(bogus);
    CHECK_THAT(bogus.err, Catch::Contains("--vmm firecracker: expected auto, builtin or qemu"));
    CHECK(processes_mentioning(root.path()).empty());
}

namespace {

// The CONFIG_* options set to y in a kernel config's text.
std::set<std::string> options_set(const std::string& config) {
    std::set<std::string> set;
    std::istringstream lines(config);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("CONFIG_") && line.ends_with("=y")) set.insert(line.substr(0, line.size() - 2));
    return set;
}

}  // namespace

TEST_CASE("microvm: hutch run takes an image that needs a kernel option this host lacks to a microVM",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    std::string kernel = guest_kernel();
    auto guest_config_read = hutch::read_file(kernel.substr(0, kernel.rfind('/')) + "/config");
    REQUIRE(guest_config_read);
    std::string guest_config = *guest_config_read;
    auto host_config = shell("zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)");
    if (host_config.status != 0) {
        WARN("skipped: this host's kernel config is not readable (/proc/config.gz, /boot/config-*)");
        return;
    }
    // An option of the guest kernel's that this host's kernel lacks: the image asks for it.
    std::set<std::string> on_host = options_set(host_config.out);
    std::string needed;
    for (const auto& option : options_set(guest_config))
        if (!on_host.contains(option)) {
            needed = option;
            break;
        }
    if (needed.empty()) {
        WARN("skipped: the guest kernel has no option that this host's kernel lacks");
        return;
    }
    TempDir root;
    TestImage image = busybox_image({{"Labels", {{"org.hutch.kernel.config", needed}}}});
    check_ok(hutch_cmd(root, {"load", "-i", image.dir.path(), "localhost/needs:1"}));
    std::string host = host_release();

    auto r =
        hutch_cmd(root, {"run", "--rm", "--vm-kernel", kernel, "localhost/needs:1", "cat", "/proc/version"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.err == "hutch: running localhost/needs:1 in a microVM: it needs " + needed +
                       ", which this host's kernel lacks\n");
    // The guest kernel's own /proc/version, not this host's release.
    // Its config's header: "# Linux/x86_64 6.1.192 Kernel Configuration".
    auto guest_version = guest_config.substr(guest_config.find("# Linux/") + 8);
    guest_version = guest_version.substr(guest_version.find(' ') + 1);
    guest_version = guest_version.substr(0, guest_version.find(' '));
    CHECK(r.out.starts_with("Linux version " + guest_version));
    CHECK_FALSE(r.out.starts_with("Linux version " + host + " "));

    auto never =
        hutch_cmd(root, {"run", "--rm", "--vm=never", "--vm-kernel", kernel, "localhost/needs:1", "true"});
    check_one_line_failure(never);
    CHECK(never.err.find("which this host's kernel lacks") != std::string::npos);
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

TEST_CASE("microvm: hutch run --vm applies rlimits, --read-only, --tmpfs, -e and --env-file",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    const std::string& kernel = store.kernel;
    REQUIRE(hutch::write_file_atomic(root.path() + "/env", "FROM_FILE=file\n# a comment\n"));

    // RLIMIT_NOFILE 1024 is what the config.json of a host container says too.
    auto r = hutch_cmd(
        root, {"run", "--rm", "--vm", "--vm-kernel", kernel, "--read-only", "--tmpfs", "/scratch/a", "-e",
               "FROM_FLAG=flag", "--env-file", root.path() + "/env", "localhost/bb:1", "sh", "-c",
               "ulimit -n; echo $FROM_FLAG $FROM_FILE; touch /x 2>/dev/null || echo read-only; "
               "touch /scratch/a/y && echo tmpfs-writable; grep ' /scratch/a ' /proc/mounts"});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.starts_with(
        "1024\nflag file\nread-only\ntmpfs-writable\ntmpfs /scratch/a tmpfs rw,nosuid,nodev"));

    // Without --read-only the root takes writes (into the VM's tmpfs upper layer).
    auto writable = hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", kernel, "localhost/bb:1", "sh",
                                     "-c", "touch /x && echo wrote; grep -c ' /scratch' /proc/mounts"});
    CHECK(writable.out == "wrote\n0\n");
    CHECK(processes_mentioning(root.path()).empty());
}

TEST_CASE(
    "microvm: hutch run --vm gives the process podman's capabilities, --cap-add/--cap-drop and "
    "no-new-privileges inside",
    "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const std::string show = "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status";
    // podman's defaults: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
    // NET_BIND_SERVICE, SYS_CHROOT and SETFCAP; the agent itself holds every capability.
    auto plain =
        hutch_cmd(store.root, {"run", "--rm", "--vm", "--vm-kernel", store.kernel, "localhost/bb:1", "sh",
                               "-c", show + "; mknod /n c 1 3 2>/dev/null || echo mknod refused"});
    INFO(plain.err);
    CHECK(plain.status == 0);
    CHECK(plain.out ==
          "CapEff:\t00000000800405fb\nCapBnd:\t00000000800405fb\nNoNewPrivs:\t0\nmknod refused\n");

    // --kernel is --vm-kernel's other name.
    auto narrowed = hutch_cmd(
        store.root, {"run", "--rm", "--vm", "--kernel", store.kernel, "--cap-drop", "ALL", "--cap-add",
                     "KILL", "--security-opt", "no-new-privileges", "localhost/bb:1", "sh", "-c", show});
    INFO(narrowed.err);
    CHECK(narrowed.status == 0);
    CHECK(narrowed.out == "CapEff:\t0000000000000020\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\n");
    CHECK(processes_mentioning(store.root.path()).empty());
}

TEST_CASE("microvm: hutch run --vm -v shares a host directory, read-write or read-only, and copies a file",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    TempDir shared;
    REQUIRE(hutch::write_file_atomic(shared.path() + "/from-host", "hello from the host\n"));

    // Read and written through virtio-9p: the host sees what the guest wrote, at once.
    auto rw = hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", store.kernel, "-v",
                               shared.path() + ":/data", "localhost/bb:1", "sh", "-c",
                               "cat /data/from-host; echo written in the VM > /data/from-guest"});
    INFO(rw.err);
    CHECK(rw.status == 0);
    CHECK(rw.out == "hello from the host\n");
    CHECK(read_text(shared.path() + "/from-guest") == "written in the VM");

    // :ro, at a path the image lacks (made in the VM's overlay).
    auto ro =
        hutch_cmd(root, {"run", "--rm", "--vm", "--vm-kernel", store.kernel, "-v",
                         shared.path() + ":/mnt/deep/data:ro", "localhost/bb:1", "sh", "-c",
                         "cat /mnt/deep/data/from-host; touch /mnt/deep/data/x 2>/dev/null || echo refused"});
    INFO(ro.err);
    CHECK(ro.status == 0);
    CHECK(ro.out == "hello from the host\nrefused\n");
    CHECK_FALSE(path_exists(shared.path() + "/x"));

    // A file is copied in at the start: the VM's changes stay in the VM.
    auto file = hutch_cmd(
        root, {"run", "--rm", "--vm", "--vm-kernel", store.kernel, "-v", shared.path() + "/from-host:/etc/x",
               "localhost/bb:1", "sh", "-c", "cat /etc/x; echo changed > /etc/x"});
    INFO(file.err);
    CHECK(file.out == "hello from the host\n");
    CHECK(read_text(shared.path() + "/from-host") == "hello from the host");
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

namespace {

// The container's record once its status is `status`, or after a minute (a TCG boot on a busy host).
nlohmann::json wait_for_status(const TempDir& root, const std::string& name, const std::string& status) {
    auto record = nlohmann::json::object();
    for (int i = 0; i < 600 && record.value("status", "") != status; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        record = inspect(root, name);
    }
    return record;
}

// `hutch logs`, once it holds needle or after a minute.
std::string logs_holding(const TempDir& root, const std::string& name, const std::string& needle) {
    std::string logs;
    for (int i = 0; i < 600 && logs.find(needle) == std::string::npos; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        logs = hutch_cmd(root, {"logs", name}).out;
    }
    return logs;
}

}  // namespace

TEST_CASE(
    "microvm: hutch run -d --vm and create --vm make containers of the store: ps, logs, stats, stop, start, "
    "rm",
    "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    // Whatever fails, no container, VM or mount of the store outlives the test.
    ContainerSweeper sweeper(root);
    std::vector<std::string> vm = {"--vm", "--vm-kernel", store.kernel, "--vmm", "qemu"};

    auto detached = [&] {
        std::vector<std::string> args = {"run", "-d", "--name", "vmd"};
        args.insert(args.end(), vm.begin(), vm.end());
        args.insert(args.end(), {"localhost/bb:1", "sh", "-c",
                                 "trap 'exit 143' TERM; echo up in $(uname -r); sleep 1000 & wait"});
        return hutch_cmd(root, args);
    }();
    INFO(detached.err);
    REQUIRE(detached.status == 0);
    CHECK(detached.out.size() == 65);  // the id and a newline
    CHECK(wait_for_status(root, "vmd", "running")["status"] == "running");
    CHECK(hutch_cmd(root, {"ps"}).out.find("vmd") != std::string::npos);
    // Its root is the image's layer disk, made once in the store, not a packed copy of its rootfs.
    CHECK(shell("find " + root.path() + "/storage -name erofs.img | grep -q .").status == 0);
    CHECK(shell("find " + root.path() + " -name rootfs.erofs | grep -q .").status != 0);
    // The guest kernel's release, not the host's.
    std::string release = read_text("/proc/sys/kernel/osrelease");
    std::string logs = logs_holding(root, "vmd", "up in ");
    CHECK(logs.find("up in ") != std::string::npos);
    CHECK(logs.find("up in " + release + "\n") == std::string::npos);
    // exec runs in the VM too (hutch-oci's microVM exec): the guest's kernel, the exit status.
    auto exec = hutch_cmd(root, {"exec", "vmd", "sh", "-c", "uname -r; exit 6"});
    INFO(exec.err);
    CHECK(exec.status == 6);
    CHECK(logs.find("up in " + exec.out) != std::string::npos);
    // pause stops the whole VM; unpause lets it go on.
    check_ok(hutch_cmd(root, {"pause", "vmd"}));
    CHECK(inspect(root, "vmd")["status"] == "paused");
    check_ok(hutch_cmd(root, {"unpause", "vmd"}));
    CHECK(inspect(root, "vmd")["status"] == "running");
    auto after_unpause = hutch_cmd(root, {"exec", "vmd", "true"});
    INFO(after_unpause.err);
    CHECK(after_unpause.status == 0);
    // stats: the counters of the process's cgroup in the guest, where sh and sleep are.
    auto stats = hutch_cmd(root, {"stats", "--no-stream", "vmd"});
    INFO(stats.err);
    CHECK(stats.status == 0);
    std::istringstream table(stats.out);
    std::string header, row;
    std::getline(table, header);
    std::getline(table, row);
    CHECK(header.find("PIDS") != std::string::npos);
    CHECK(row.find(" vmd ") != std::string::npos);
    CHECK(row.ends_with(" 2"));
    check_ok(hutch_cmd(root, {"stop", "-t", "30", "vmd"}));
    auto stopped = inspect(root, "vmd");
    CHECK(stopped["status"] == "exited");
    // SIGTERM, forwarded into the VM: sh, PID 1 of its pid namespace, handles it.
    CHECK(stopped["exitCode"] == 143);
    check_ok(hutch_cmd(root, {"rm", "vmd"}));

    // create --vm, then start: the VM boots at start's create in the monitor, and exits by itself.
    std::vector<std::string> create = {"create", "--name", "vmc"};
    create.insert(create.end(), vm.begin(), vm.end());
    create.insert(create.end(), {"localhost/bb:1", "sh", "-c", "echo created then started; exit 4"});
    check_ok(hutch_cmd(root, create));
    CHECK(inspect(root, "vmc")["status"] == "created");
    check_ok(hutch_cmd(root, {"start", "vmc"}));
    auto exited = wait_for_status(root, "vmc", "exited");
    CHECK(exited["exitCode"] == 4);
    CHECK(logs_holding(root, "vmc", "created then started").find("created then started") !=
          std::string::npos);
    check_ok(hutch_cmd(root, {"rm", "vmc"}));

    // --name in the foreground: this process is the monitor, its output and status the VM's.
    std::vector<std::string> named = {"run", "--rm", "--name", "vmf"};
    named.insert(named.end(), vm.begin(), vm.end());
    named.insert(named.end(), {"localhost/bb:1", "sh", "-c", "echo in the foreground; exit 5"});
    auto foreground = hutch_cmd(root, named);
    INFO(foreground.err);
    CHECK(foreground.status == 5);
    CHECK(foreground.out == "in the foreground\n");
    CHECK(hutch_cmd(root, {"ps", "-aq"}).out.empty());
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

TEST_CASE("microvm: hutch run --vm sizes the VM by -m and --cpus and enforces them and --pids-limit inside",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    BusyboxStore store;
    const TempDir& root = store.root;
    const std::string& kernel = store.kernel;

    // One VM for all of it (a boot is the cost): the process's cgroup, the VM's size, then a hog
    // that its cgroup's OOM killer stops (not the guest's: the VM has room beyond the limit), and
    // last a fork bomb that stops at pids.max, ending the shell.
    auto r = hutch_cmd(
        root,
        {"run", "--rm", "--vm", "--vm-kernel", kernel, "-m", "64m", "--cpus", "1.5", "--pids-limit", "5",
         "localhost/bb:1", "sh", "-c",
         "cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $cg/memory.max $cg/cpu.max $cg/pids.max; "
         "nproc; grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2; "
         "(echo 1000 > /proc/self/oom_score_adj; head -c 100m /dev/zero | tail > /dev/null); "
         "echo hog=$?; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo all-started"});
    INFO(r.out << r.err);
    std::istringstream out(r.out);
    std::string memory_max, cpu_max, pids_max, nproc, mem_total_kib, hog;
    std::getline(out, memory_max);
    std::getline(out, cpu_max);
    std::getline(out, pids_max);
    std::getline(out, nproc);
    std::getline(out, mem_total_kib);
    std::getline(out, hog);
    CHECK(memory_max == std::to_string(64 << 20));
    CHECK(cpu_max == "150000 100000");
    CHECK(pids_max == "5");
    // ceil(1.5) vCPUs, unless this host has fewer.
    CHECK(nproc == std::to_string(std::min(2L, ::sysconf(_SC_NPROCESSORS_ONLN))));
    // The VM has the limit and the guest's overhead, less what its kernel keeps for itself; not
    // the 512 MiB a VM gets without -m.
    long mem_total_mib = std::atol(mem_total_kib.c_str()) / 1024;
    CHECK(mem_total_mib > 64);
    CHECK(mem_total_mib <= static_cast<long>(64 + hutch::microvm::host::vm_memory_overhead_mib(64)));
    CHECK(hog == "hog=137");
    CHECK(r.out.find("all-started") == std::string::npos);
    CHECK(r.err.find("can't fork") != std::string::npos);
    CHECK(r.status != 0);

    // A limit the host path refuses is refused the same way before any VM starts.
    check_one_line_failure(hutch_cmd(
        root, {"run", "--rm", "--vm", "--vm-kernel", kernel, "--pids-limit", "0", "localhost/bb:1", "true"}));
    CHECK(processes_mentioning(root.path()).empty());
    CHECK(host_mounts_matching(root.path()).empty());
}

TEST_CASE("microvm: a signal gets through while the caller does not read the process's output",
          "[.microvm-qemu]") {
    SKIP_WITHOUT_QEMU();
    VmImage image;
    // HUTCH_VM_CONSOLE: the guest's console on stderr, a way out of the VM that stdout's backlog
    // does not hold up. The trap says on it that SIGTERM arrived, then dies of it.
    std::vector<std::string> argv = {"env", "HUTCH_VM_CONSOLE=1"};
    for (const auto& arg :
         image.command({"--", "sh", "-c",
                        "trap 'echo got-term >/dev/console; kill $p; trap - TERM; kill -TERM $$' TERM; "
                        "yes & p=$!; wait"}))
        argv.push_back(arg);
    RunningVm vm(argv, true);
    REQUIRE(vm.read_until("y\ny\n").starts_with("y\n"));
    // Nobody reads stdout now: its pipe, hutch-vm-run's held output and the agent's fill up.
    ::sleep(3);
    REQUIRE(::kill(vm.pid, SIGTERM) == 0);
    auto sent = std::chrono::steady_clock::now();
    CHECK(vm.read_until("got-term", vm.err).find("got-term") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(60));
    // The output held meanwhile is bounded (1 MiB in hutch-vm-run, the buffers in the guest's
    // port queue, the pipes; about 23 MB of `yes` here): it all comes once read, then the exit
    // status.
    std::string rest = vm.read_until("never in the output");
    CHECK(rest.size() < 64u << 20);
    CHECK(vm.wait() == 143);
    CHECK(processes_mentioning(image.dir()).empty());
}
