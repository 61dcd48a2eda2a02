#include "runtime/container.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "base/file.h"
#include "base/json.h"
#include "cgroups/manager.h"
#include "runtime/backend.h"
#include "runtime/hooks.h"

namespace hutch::runtime {

const char* status_name(Status status) {
    switch (status) {
        case Status::creating: return "creating";
        case Status::created: return "created";
        case Status::running: return "running";
        case Status::paused: return "paused";
        case Status::stopped: return "stopped";
    }
    return "unknown";
}

ErrorOr<void> validate_container_id(const std::string& id) {
    if (id.empty()) return fail("container id must not be empty");
    if (id == "." || id == "..") return fail("invalid container id: " + id);
    for (char c : id)
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.'))
            return fail("invalid container id: " + id + " (allowed: letters, digits, _ + - .)");
    return {};
}

namespace {

// Every command works through this fd. A directory removed while we waited for its lock (a
// delete that held it) is not ours to act on, even if a container of the same id was made since
// at the same path: the fd still names the old one, and nothing of it is left.
ErrorOr<UniqueFd> lock_directory(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno("open " + dir);
    if (::flock(fd.get(), LOCK_EX) != 0) return fail_errno("lock " + dir);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + dir);
    if (st.st_nlink == 0) return std::unexpected(Error{dir + " was removed", ENOENT});
    return fd;
}

nlohmann::json to_json(const ContainerState& s) {
    auto hooks_json = [](const std::vector<spec::Hook>& hooks) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& h : hooks) a.push_back(hook_to_json(h));
        return a;
    };
    nlohmann::json j = {{"id", s.id},
                        {"pid", s.pid},
                        {"pid_start_time", s.pid_start_time},
                        {"bundle", s.bundle},
                        {"rootfs", s.rootfs},
                        {"created", s.created},
                        {"owner", s.owner},
                        {"annotations", s.annotations},
                        {"cgroup_paths", s.cgroup_paths},
                        {"poststart", hooks_json(s.poststart)},
                        {"poststop", hooks_json(s.poststop)},
                        {"own_pid_namespace", s.own_pid_namespace},
                        {"net_devices", s.net_devices},
                        {"net_namespace_path", s.net_namespace_path},
                        {"rootfs_mount_id", s.rootfs_mount_id},
                        {"mount_namespace_path", s.mount_namespace_path}};
    if (!s.backend.empty()) j["backend"] = s.backend;
    return j;
}

ErrorOr<ContainerState> from_json(const std::string& text) {
    try {
        auto j = nlohmann::json::parse(text);
        ContainerState s;
        s.id = j.at("id").get<std::string>();
        s.pid = j.at("pid").get<pid_t>();
        s.pid_start_time = j.at("pid_start_time").get<uint64_t>();
        s.bundle = j.at("bundle").get<std::string>();
        s.rootfs = j.at("rootfs").get<std::string>();
        s.created = j.at("created").get<std::string>();
        s.owner = j.at("owner").get<std::string>();
        s.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
        s.cgroup_paths = j.at("cgroup_paths").get<std::map<std::string, std::string>>();
        for (const auto& h : j.at("poststart")) s.poststart.push_back(hook_from_json(h));
        for (const auto& h : j.at("poststop")) s.poststop.push_back(hook_from_json(h));
        s.own_pid_namespace = j.at("own_pid_namespace").get<bool>();
        // Optional: a state saved before netDevices and shared mount namespaces has none of these.
        s.net_devices = j.value("net_devices", std::map<std::string, std::string>{});
        s.net_namespace_path = j.value("net_namespace_path", std::string{});
        s.rootfs_mount_id = j.value("rootfs_mount_id", uint64_t{0});
        s.mount_namespace_path = j.value("mount_namespace_path", std::string{});
        s.backend = j.value("backend", std::string{});
        return s;
    } catch (const nlohmann::json::exception& e) {
        return fail(std::string("state.json is damaged: ") + e.what());
    }
}

}  // namespace

ErrorOr<Container> Container::make_new(const std::string& root, const std::string& id) {
    TRY(validate_container_id(id));
    // With its parents, as runc makes it: containerd passes ROOT/<namespace>, dockerd
    // EXEC_ROOT/runtime-runc/moby, and neither makes the parent first.
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(root).parent_path(), ec);
    if (ec) return fail("create state root " + root + ": " + ec.message());
    if (::mkdir(root.c_str(), 0711) != 0 && errno != EEXIST) return fail_errno("create state root " + root);
    std::string dir = root + "/" + id;
    if (::mkdir(dir.c_str(), 0711) != 0) {
        if (errno == EEXIST) return fail("container " + id + " already exists");
        return fail_errno("create " + dir);
    }
    auto lock = lock_directory(dir);
    if (!lock) {
        ::rmdir(dir.c_str());
        return std::unexpected(lock.error());
    }
    Container c(dir, std::move(*lock));
    c.state.id = id;
    c.creating_ = true;
    return c;
}

// The lock fd stays open, so that relock() locks the very directory that was unlocked.
void Container::unlock() { ::flock(lock_.get(), LOCK_UN); }

ErrorOr<bool> Container::relock() {
    if (::flock(lock_.get(), LOCK_EX) != 0) return fail_errno("lock " + dir_);
    struct stat st;
    if (::fstat(lock_.get(), &st) != 0) return fail_errno("stat " + dir_);
    return st.st_nlink > 0;
}

ErrorOr<Container> Container::open(const std::string& root, const std::string& id) {
    TRY(validate_container_id(id));
    std::string dir = root + "/" + id;
    auto missing = [&](const Error& e) {
        return e.code == ENOENT ? Error::with_message("container " + id + " does not exist") : e;
    };
    UniqueFd lock = TRY(map_error(lock_directory(dir), missing));
    std::string text = TRY(map_error(read_file_at(lock.get(), "state.json"), missing));
    Container c(dir, std::move(lock));
    c.state = TRY_CTX(from_json(text), "container " + id);
    return c;
}

ErrorOr<bool> Container::remove_broken(const std::string& root, const std::string& id) {
    TRY(validate_container_id(id));
    // Under the lock, like every other removal: a create still running holds it, and may have
    // finished by the time we have it (the caller then deletes the container it made).
    auto lock = lock_directory(root + "/" + id);
    if (!lock && lock.error().code == ENOENT) return true;
    if (!lock) return std::unexpected(lock.error());
    if (auto text = read_file_at(lock->get(), "state.json"); text && from_json(*text)) return false;
    std::error_code ec;
    std::filesystem::remove_all(root + "/" + id, ec);
    if (ec) return fail("remove " + root + "/" + id + ": " + ec.message());
    return true;
}

std::optional<ProcessStat> read_process_stat(pid_t pid) {
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return std::nullopt;
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    auto close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size()) return std::nullopt;
    std::string rest = stat->substr(close + 2);
    ProcessStat result;
    result.state = rest[0];
    // rest starts at field 3 (state); the parent is field 4, the start time field 22.
    size_t pos = 0;
    for (int field = 3; field < 22; ++field) {
        pos = rest.find(' ', pos);
        if (pos == std::string::npos) return std::nullopt;
        ++pos;
        if (field == 3) result.parent = static_cast<pid_t>(std::strtol(rest.c_str() + pos, nullptr, 10));
    }
    result.start_time = std::strtoull(rest.c_str() + pos, nullptr, 10);
    return result;
}

uint64_t process_start_time(pid_t pid) {
    auto stat = read_process_stat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') return 0;  // exited, only its zombie is left
    return stat->start_time;
}

Status Container::status() const {
    if (creating_) return Status::creating;
    if (state.pid <= 0 || process_start_time(state.pid) != state.pid_start_time) return Status::stopped;
    // Before the fifo: a created container can be paused too, and then it is "paused", as in runc.
    if (backend_of(state).paused(*this)) return Status::paused;
    struct stat st;
    return ::fstatat(lock_.get(), "exec.fifo", &st, AT_SYMLINK_NOFOLLOW) == 0 ? Status::created
                                                                              : Status::running;
}

ErrorOr<void> Container::save() const {
    // Renamed into place, so a reader never sees half a file; not fsync'ed: the state describes
    // processes that a reboot ends anyway (/run is a tmpfs on most hosts), and a file torn by a
    // power loss is what `delete --force` removes. The fsync cost 0.3-0.5 ms of every start here.
    TRY(write_file_atomic_at(lock_.get(), "state.json", json_text(to_json(state))));
    return {};
}

ErrorOr<void> Container::save_config(const std::string& text) const {
    return write_file_atomic_at(lock_.get(), "config.json", text);
}

ErrorOr<std::string> Container::load_config() const {
    auto text = read_file_at(lock_.get(), "config.json");
    if (!text && text.error().code == ENOENT)
        return fail("container " + state.id +
                    " was created by an older hutch-oci, which kept no config for exec");
    return text;
}

ErrorOr<void> Container::remove_directory() {
    // What hutch puts there, then the directory; a walk only if something else was left in it.
    for (const char* name : {"state.json", "config.json", "exec.fifo"}) ::unlinkat(lock_.get(), name, 0);
    if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return {};
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (ec) return fail("remove " + dir_ + ": " + ec.message());
    return {};
}

nlohmann::ordered_json Container::spec_state() const {
    Status s = status();
    nlohmann::ordered_json j = {{"ociVersion", spec::kOciVersion},
                                {"id", state.id},
                                {"status", status_name(s)},
                                {"bundle", state.bundle}};
    if (s != Status::stopped) j["pid"] = state.pid;
    if (!state.annotations.empty()) j["annotations"] = state.annotations;
    return j;
}

nlohmann::ordered_json Container::runc_state() const {
    Status s = status();
    nlohmann::ordered_json j = {{"ociVersion", spec::kOciVersion},
                                {"id", state.id},
                                {"pid", s == Status::stopped ? 0 : state.pid},
                                {"status", status_name(s)},
                                {"bundle", state.bundle},
                                {"rootfs", state.rootfs},
                                {"created", state.created},
                                {"owner", state.owner}};
    if (!state.annotations.empty()) j["annotations"] = state.annotations;
    return j;
}

}  // namespace hutch::runtime
