// The container monitor (monitor.h): create, start, relay output, wait, clean up.
#include "cli/hutch/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "base/timestamp.h"
#include "cli/hutch/console_socket.h"
#include "cli/hutch/container_log.h"
#include "cli/hutch/stdio.h"
#include "images/container_rootfs.h"
#include "runtime/foreground.h"
#include "runtime/process_end.h"
#include "runtime/runtime.h"

namespace hutch::cli {
namespace {

struct Pipe {
    UniqueFd read, write;
};

ErrorOr<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == -1) return fail_errno("pipe");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The container's process and our ends of its output.
struct Watched {
    pid_t pid = 0;
    UniqueFd pidfd;
    UniqueFd stdout_read, stderr_read;  // without a terminal
    UniqueFd master;                    // with one
};

ErrorOr<pid_t> container_pid(const ContainerStore& store, const std::string& id) {
    std::string text = TRY(runtime::state(store.run_root(), id));
    auto state = nlohmann::json::parse(text, nullptr, false);
    if (state.is_discarded() || !state.contains("pid") || !state["pid"].is_number_integer())
        return fail("container " + id + ": the runtime's state has no pid");
    return state["pid"].get<pid_t>();
}

// The runtime's create, with the container's stdio ours to read: pipes, or a terminal handed
// over on a console socket. stdin is ours only when interactive.
ErrorOr<Watched> create_container(const ContainerStore& store, const ContainerRecord& record,
                                  const MonitorOptions& options) {
    std::string dir = store.dir(record.id);
    TRY(images::mount_container_rootfs(dir, record.lowers, record.remove_on_exit));
    runtime::CreateOptions create;
    create.root = store.run_root();
    create.id = record.id;
    create.bundle = dir;
    Watched watched;
    std::optional<ConsoleSocket> console;
    {
        StdioSwap swap;
        UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!null) return fail_errno("open /dev/null");
        if (!(options.attach && options.interactive)) TRY(swap.put(0, null.get()));
        Pipe out, err;
        if (record.tty) {
            console.emplace(TRY(ConsoleSocket::listen()));
            create.console_socket = console->path();
        } else {
            out = TRY(make_pipe());
            err = TRY(make_pipe());
            TRY(swap.put(1, out.write.get()));
            TRY(swap.put(2, err.write.get()));
        }
        auto created = runtime::create(create);
        swap.restore();
        if (!created) return std::unexpected(created.error());
        watched.stdout_read = std::move(out.read);
        watched.stderr_read = std::move(err.read);
    }
    if (console) watched.master = TRY(console->receive_master());
    // Sized before the start, so that the container's first look at its terminal sees ours.
    if (options.attach) runtime::resize_terminal(watched.master.get());
    watched.pid = TRY(container_pid(store, record.id));
    // Our own child, not yet waited for: its pid cannot have been reused.
    watched.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, watched.pid, 0)));
    if (!watched.pidfd) return fail_errno("pidfd_open");
    pid_t monitor = ::getpid();
    // Starting (by `run`, or a `start` that claimed it), or created to wait for `start`.
    TRY(store.update(record.id, [&](ContainerRecord& r) {
        r.status = options.start ? ContainerStatus::starting : ContainerStatus::created;
        r.pid = watched.pid;
        r.monitor_pid = monitor;
    }));
    return watched;
}

}  // namespace

ErrorOr<void> start_created(const ContainerStore& store, const std::string& id) {
    // Started under the container's lock, so that its monitor records an end that comes at once
    // after this has recorded "running", not before.
    TRY(store.transition(id, {ContainerStatus::starting}, ContainerStatus::running,
                         [&](ContainerRecord& r) -> ErrorOr<void> {
                             TRY(runtime::start(store.run_root(), id));
                             r.started_at = rfc3339_now(true);
                             return {};
                         }));
    return {};
}

namespace {

// Creates and starts; on failure nothing of the runtime's side or the mount stays.
ErrorOr<Watched> bring_up(const ContainerStore& store, const ContainerRecord& record,
                          const MonitorOptions& options) {
    auto watched = create_container(store, record, options);
    if (watched && options.start) {
        auto started = start_created(store, record.id);
        if (!started) watched = std::unexpected(started.error());
    }
    // It never ran: its end is recorded as a command that could not run (kept, as docker keeps
    // it, unless --rm).
    if (!watched) (void)finish_container(store, record.id, 127);
    return watched;
}

struct Stream {
    UniqueFd* fd;  // our end of the container's stdout or stderr (or its terminal)
    LogStreamWriter log;
    int echo;  // our stdout or stderr in the foreground, else -1
    bool open = true;
};

// Copies what one read gets to the log (and our terminal); returns what read returned. When our
// own output is a pipe whose reader has gone (`hutch run IMAGE yes | head -1`), our end of the
// container's is closed too: its next write fails as it would have written to that pipe itself.
ssize_t relay(Stream& s) {
    char buf[16384];
    ssize_t n = ::read(s.fd->get(), buf, sizeof buf);
    if (n <= 0) return n;
    std::string_view data(buf, static_cast<size_t>(n));
    s.log.write(data);
    if (s.echo < 0) return n;
    if (auto echoed = write_all(s.echo, data); !echoed && echoed.error().code == EPIPE) {
        s.fd->reset();
        s.open = false;
        return 0;
    }
    return n;
}

bool ended(ssize_t n) { return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN); }

// Relays output (and, in the foreground, signals) until the process ends; then the output still
// buffered. Returns the exit status.
int watch(Watched& w, int log_fd, int signal_fd, bool attach) {
    std::vector<Stream> streams;
    if (w.master) {
        streams.push_back({&w.master, LogStreamWriter(log_fd, "stdout"), attach ? 1 : -1});
    } else {
        streams.push_back({&w.stdout_read, LogStreamWriter(log_fd, "stdout"), attach ? 1 : -1});
        streams.push_back({&w.stderr_read, LogStreamWriter(log_fd, "stderr"), attach ? 2 : -1});
    }
    for (;;) {
        std::vector<pollfd> fds = {{w.pidfd.get(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
        for (auto& s : streams) fds.push_back({s.open ? s.fd->get() : -1, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info;
            if (::read(signal_fd, &info, sizeof info) == sizeof info &&
                runtime::is_forwarded_signal(static_cast<int>(info.ssi_signo)))
                ::syscall(SYS_pidfd_send_signal, w.pidfd.get(), info.ssi_signo, nullptr, 0);
        }
        for (size_t i = 0; i < streams.size(); ++i) {
            if (fds[i + 2].revents && ended(relay(streams[i]))) streams[i].open = false;
        }
        if (fds[0].revents & POLLIN) break;
    }
    // The process has ended: what it wrote is in the pipes, which a process it left behind may
    // still hold open, so they are read without waiting.
    for (auto& s : streams) {
        if (s.open) ::fcntl(s.fd->get(), F_SETFL, ::fcntl(s.fd->get(), F_GETFL) | O_NONBLOCK);
        ssize_t n;
        while (s.open && ((n = relay(s)) > 0 || (n < 0 && errno == EINTR))) {
        }
        s.log.finish();
    }
    return runtime::wait_exit_status(w.pidfd.get());
}

ErrorOr<UniqueFd> open_log(const ContainerStore& store, const std::string& id) {
    std::string path = store.dir(id) + "/ctr.log";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("open " + path);
    return fd;
}

// The detached monitor's report to the command that forked it: one line, empty when the
// container was created (and started), else the error. A line, not the pipe's end: a container
// created but not started holds a copy of the pipe until it execs.
void send_report(UniqueFd report, const std::string& error) {
    std::string line = error;
    std::ranges::replace(line, '\n', ' ');
    (void)write_all(report.get(), line + "\n");
}

ErrorOr<void> receive_report(int report) {
    std::string line;
    char c;
    ssize_t n;
    while ((n = ::read(report, &c, 1)) == 1 || (n == -1 && errno == EINTR)) {
        if (n == 1 && c == '\n') return line.empty() ? ErrorOr<void>() : fail(line);
        if (n == 1) line.push_back(c);
    }
    return fail("the container's monitor ended without a word" + (line.empty() ? "" : ": " + line));
}

// The detached monitor lives on after the command: it keeps none of the fds the command
// inherited (a pipe whose reader waits for its end, a lock, a socket), only those in keep.
void close_inherited_fds(std::vector<int> keep) {
    std::ranges::sort(keep);
    unsigned first = 3;
    for (int fd : keep) {
        if (fd < static_cast<int>(first)) continue;
        if (static_cast<unsigned>(fd) > first)
            ::syscall(SYS_close_range, first, static_cast<unsigned>(fd) - 1, 0U);
        first = static_cast<unsigned>(fd) + 1;
    }
    ::syscall(SYS_close_range, first, ~0U, 0U);
}

// The detached monitor's life after the fork: it reports the start's outcome on report, then
// watches until the end.
[[noreturn]] void monitor_main(const ContainerStore& store, const ContainerRecord& record,
                               const MonitorOptions& options, UniqueFd report, UniqueFd log) {
    int code = 1;
    try {
        auto watched = bring_up(store, record, options);
        send_report(std::move(report), watched ? "" : watched.error().message);
        if (!watched) ::_exit(1);
        int status = watch(*watched, log.get(), -1, false);
        auto finished = finish_container(store, record.id, status);
        code = finished ? 0 : 1;
    } catch (...) {
        // Nothing may unwind out of a forked copy of the command.
    }
    ::_exit(code);
}

}  // namespace

ErrorOr<void> finish_container(const ContainerStore& store, const std::string& id, int exit_code) {
    auto removed = runtime::remove(store.run_root(), id, true);
    // A runtime container already gone (an earlier cleanup) is what we wanted.
    if (!removed && removed.error().message.find("does not exist") == std::string::npos)
        log::error(removed.error().message);
    // The exit is recorded first: a failed unmount must not lose it.
    auto record = TRY(store.update(id, [&](ContainerRecord& r) {
        r.status = ContainerStatus::exited;
        r.exit_code = exit_code;
        r.finished_at = rfc3339_now(true);
        r.pid = 0;
    }));
    TRY(images::unmount_container_rootfs(store.dir(id)));
    if (record.remove_on_exit) TRY(store.remove(id));
    return {};
}

namespace {

// Polls fd until it is readable or timeout has passed, signals or not; a timeout too long for
// poll's int of milliseconds (`stop -t 2000000000`) is waited in turns.
void wait_readable(int fd, std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    // Within the clock's range: a century is for ever here.
    timeout =
        std::clamp(timeout, std::chrono::milliseconds(0),
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(24 * 365 * 100)));
    auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return;
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
        if (n > 0 || (n == -1 && errno != EINTR)) return;
    }
}

}  // namespace

ErrorOr<bool> wait_until_exited(const ContainerStore& store, const std::string& id,
                                std::chrono::milliseconds timeout) {
    auto record = TRY(store.find(id));
    if (record.status == ContainerStatus::exited) return true;
    UniqueFd monitor(static_cast<int>(::syscall(SYS_pidfd_open, record.monitor_pid, 0)));
    // The monitor exits right after it records the end (a foreground `hutch run` a moment later).
    if (record.monitor_pid > 0 && monitor) wait_readable(monitor.get(), timeout);
    // A container run with --rm is gone once its monitor is done.
    auto after = store.find(id);
    return !after || after->status == ContainerStatus::exited;
}

ErrorOr<void> kill_and_reap(const ContainerStore& store, const ContainerRecord& record) {
    // Errors are for the wait to judge: the process may have ended, or the runtime's side be gone.
    (void)runtime::kill(store.run_root(), record.id, SIGKILL, true);
    // cgroup v1's freezer holds even a killed process until it is thawed.
    if (record.status == ContainerStatus::paused) (void)runtime::resume(store.run_root(), record.id);
    if (TRY(wait_until_exited(store, record.id, std::chrono::seconds(10)))) return {};
    return finish_container(store, record.id, 128 + SIGKILL);
}

ErrorOr<int> run_attached(const ContainerStore& store, const ContainerRecord& record,
                          const MonitorOptions& options) {
    UniqueFd log = TRY(open_log(store, record.id));
    // Blocked before the clone so that none is lost; the container unblocks them for itself.
    UniqueFd signal_fd = TRY(runtime::block_signals());
    if (options.set_up) options.set_up->release();
    Watched watched = TRY(bring_up(store, record, options));
    int status;
    if (watched.master) {
        // Without -i the terminal gets no input from ours, as docker's -t alone gives none.
        if (!options.interactive) TRY(stdin_from_null());
        LogStreamWriter writer(log.get(), "stdout");
        status = runtime::supervise_foreground(watched.pidfd.get(), signal_fd.get(), watched.master.get(),
                                               [&](std::string_view data) { writer.write(data); });
        writer.finish();
    } else {
        status = watch(watched, log.get(), signal_fd.get(), true);
    }
    TRY(finish_container(store, record.id, status));
    return status;
}

ErrorOr<void> spawn_monitor(const ContainerStore& store, const ContainerRecord& record,
                            const MonitorOptions& options) {
    UniqueFd log = TRY(open_log(store, record.id));
    Pipe report = TRY(make_pipe());
    std::fflush(nullptr);
    pid_t child = ::fork();
    if (child == -1) return fail_errno("fork");
    if (child == 0) {
        // A session of its own, and a second fork so that it is nobody's child but init's (or
        // the nearest subreaper's): the command returns while it lives on.
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        report.read.reset();
        if (::chdir("/") == -1) {
            // Left where it was: the monitor names every path in full.
        }
        stdio_to_null();
        close_inherited_fds({report.write.get(), log.get()});
        // No signal is ignored here: an ignored signal stays ignored across exec, into the
        // container. A session of its own without a terminal gets no SIGHUP anyway, and the
        // monitor writes only to files and the report pipe, whose reader waits for it.
        monitor_main(store, record, options, std::move(report.write), std::move(log));
    }
    // From here the monitor has the container: a failure to bring it up is recorded there.
    if (options.set_up) options.set_up->release();
    report.write.reset();
    int status;
    while (::waitpid(child, &status, 0) == -1 && errno == EINTR) {
    }
    return receive_report(report.read.get());
}

}  // namespace hutch::cli
