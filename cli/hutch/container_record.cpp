// Container records on disk (container_record.h).
#include "cli/hutch/container_record.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/directory.h"
#include "base/file.h"
#include "base/json.h"
#include "base/json_reader.h"
#include "images/container_rootfs.h"

namespace hutch::cli {
namespace {

using json::Json;

// flock()ed for as long as it lives.
struct LockedFile {
    UniqueFd fd;
};

// Made (create) only with what it guards: a container's lock made again by a late writer would
// bring back a directory being removed.
ErrorOr<LockedFile> lock_file(const std::string& path, bool create) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600));
    if (!fd) return fail_errno("open " + path);
    while (::flock(fd.get(), LOCK_EX) == -1) {
        if (errno != EINTR) return fail_errno("lock " + path);
    }
    return LockedFile{std::move(fd)};
}

ErrorOr<std::string> random_id() {
    unsigned char bytes[32];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
        return fail_errno("getrandom");
    static const char digits[] = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id.push_back(digits[b >> 4]);
        id.push_back(digits[b & 15]);
    }
    return id;
}

// docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, so a name is also a safe file name.
bool is_valid_name(std::string_view name) {
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)); };
    return !name.empty() && name.size() <= 128 && word(name.front()) &&
           std::ranges::all_of(name, [&](char c) { return word(c) || c == '_' || c == '.' || c == '-'; });
}

constexpr std::pair<ContainerStatus, std::string_view> kStatusNames[] = {
    {ContainerStatus::created, "created"}, {ContainerStatus::starting, "starting"},
    {ContainerStatus::running, "running"}, {ContainerStatus::paused, "paused"},
    {ContainerStatus::exited, "exited"},   {ContainerStatus::unknown, "unknown"},
};

}  // namespace

std::string_view to_string(ContainerStatus status) {
    for (const auto& [value, name] : kStatusNames)
        if (value == status) return name;
    return "unknown";
}

std::optional<ContainerStatus> status_from_string(std::string_view text) {
    for (const auto& [value, name] : kStatusNames)
        if (name == text) return value;
    return std::nullopt;
}

Json record_json(const ContainerRecord& r) {
    return {
        {"id", r.id},
        {"name", r.name},
        {"image", r.image},
        {"imageDigest", r.image_digest},
        {"command", r.command},
        {"created", r.created},
        {"stopSignal", r.stop_signal},
        {"removeOnExit", r.remove_on_exit},
        {"tty", r.tty},
        {"labels", r.labels},
        {"volumes", r.volumes},
        {"exposedPorts", r.exposed_ports},
        {"lowers", r.lowers},
        {"status", to_string(r.status)},
        {"pid", r.pid},
        {"monitorPid", r.monitor_pid},
        {"startedAt", r.started_at},
        {"finishedAt", r.finished_at},
        {"exitCode", r.exit_code},
    };
}

namespace {

ErrorOr<ContainerStatus> parse_status(const std::string& text) {
    auto status = status_from_string(text);
    if (!status) return fail("status: not a container status: " + text);
    return *status;
}

ErrorOr<ContainerRecord> from_json(const Json& j) {
    ContainerRecord r;
    TRY(json::expect_object(j, "container.json"));
    const std::string p;
    TRY(json::read(j, p, "id", r.id));
    TRY(json::read(j, p, "name", r.name));
    TRY(json::read(j, p, "image", r.image));
    TRY(json::read(j, p, "imageDigest", r.image_digest));
    TRY(json::read(j, p, "command", r.command));
    TRY(json::read(j, p, "created", r.created));
    TRY(json::read(j, p, "stopSignal", r.stop_signal));
    TRY(json::read(j, p, "removeOnExit", r.remove_on_exit));
    TRY(json::read(j, p, "tty", r.tty));
    TRY(json::read(j, p, "labels", r.labels));
    TRY(json::read(j, p, "volumes", r.volumes));
    TRY(json::read(j, p, "exposedPorts", r.exposed_ports));
    TRY(json::read(j, p, "lowers", r.lowers));
    std::string status;
    TRY(json::read(j, p, "status", status));
    r.status = TRY(parse_status(status));
    TRY(json::read(j, p, "pid", r.pid));
    TRY(json::read(j, p, "monitorPid", r.monitor_pid));
    TRY(json::read(j, p, "startedAt", r.started_at));
    TRY(json::read(j, p, "finishedAt", r.finished_at));
    TRY(json::read(j, p, "exitCode", r.exit_code));
    return r;
}

ErrorOr<void> save(const std::string& dir, const ContainerRecord& r) {
    return write_file_atomic(dir + "/container.json", json_text(record_json(r), 2));
}

}  // namespace

ErrorOr<ContainerStore> ContainerStore::open(const std::string& storage_root, std::string run_root) {
    for (const std::string& path : {storage_root, storage_root + "/containers"}) {
        if (::mkdir(path.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + path);
    }
    return ContainerStore(storage_root + "/containers", std::move(run_root));
}

ErrorOr<ContainerRecord> ContainerStore::load(const std::string& id) const {
    std::string path = dir(id) + "/container.json";
    std::string text = TRY(read_file(path));
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail(path + ": not JSON");
    return TRY_CTX(from_json(j), path);
}

ErrorOr<ContainerRecord> ContainerStore::add(ContainerRecord record) const {
    auto lock = TRY(lock_file(containers_ + "/lock", true));
    record.id = TRY(random_id());
    if (record.name.empty()) record.name = "hutch-" + record.id.substr(0, 12);
    if (!is_valid_name(record.name))
        return fail("--name " + record.name +
                    ": a name is letters, digits, '_', '.' and '-', starting with a letter or digit");
    for (const auto& other : TRY(list())) {
        if (other.name == record.name)
            return fail("the name " + record.name + " is in use by container " + other.id.substr(0, 12));
    }
    if (::mkdir(dir(record.id).c_str(), 0700) == -1) return fail_errno("mkdir " + dir(record.id));
    TRY(lock_file(dir(record.id) + "/lock", true));
    TRY(save(dir(record.id), record));
    return record;
}

ErrorOr<ContainerRecord> ContainerStore::find(std::string_view name_or_id) const {
    std::vector<ContainerRecord> matches;
    for (auto& r : TRY(list())) {
        if (r.id == name_or_id || r.name == name_or_id) return r;
        if (name_or_id.size() >= 3 && r.id.starts_with(name_or_id)) matches.push_back(std::move(r));
    }
    if (matches.size() == 1) return matches.front();
    if (matches.empty()) return fail("no such container: " + std::string(name_or_id));
    return fail("more than one container has an id starting with " + std::string(name_or_id));
}

ErrorOr<std::vector<ContainerRecord>> ContainerStore::list() const {
    std::vector<ContainerRecord> out;
    auto entries = TRY(list_directory(containers_));
    std::ranges::sort(entries, {}, &DirectoryEntry::name);
    for (const auto& [id, type] : entries) {
        if (type != DT_DIR) continue;
        auto record = load(id);
        if (record) {
            out.push_back(std::move(*record));
            continue;
        }
        // A directory being made or removed this moment has no record: not a container (yet).
        if (::access((dir(id) + "/container.json").c_str(), F_OK) != 0) continue;
        ContainerRecord unreadable;
        unreadable.id = id;
        unreadable.status = ContainerStatus::unknown;
        out.push_back(std::move(unreadable));
    }
    return out;
}

ErrorOr<ContainerRecord> ContainerStore::update(const std::string& id,
                                                const std::function<void(ContainerRecord&)>& change) const {
    return rewrite(id, [&](ContainerRecord& r) -> ErrorOr<void> {
        change(r);
        return {};
    });
}

ErrorOr<ContainerRecord> ContainerStore::transition(const std::string& id,
                                                    std::initializer_list<ContainerStatus> from,
                                                    ContainerStatus to, const Action& act) const {
    return rewrite(id, [&](ContainerRecord& r) -> ErrorOr<void> {
        if (std::ranges::find(from, r.status) == from.end())
            return fail("container " + r.name + " is " + std::string(to_string(r.status)));
        if (act) TRY(act(r));
        r.status = to;
        return {};
    });
}

ErrorOr<ContainerRecord> ContainerStore::rewrite(const std::string& id, const Action& change) const {
    auto lock = lock_file(dir(id) + "/lock", false);
    if (!lock && lock.error().code == ENOENT) return fail("no such container: " + id);
    if (!lock) return std::unexpected(lock.error());
    ContainerRecord record = TRY(load(id));
    TRY(change(record));
    TRY(save(dir(id), record));
    return record;
}

ErrorOr<void> ContainerStore::remove(const std::string& id) const {
    return images::remove_container_dir(dir(id));
}

}  // namespace hutch::cli
