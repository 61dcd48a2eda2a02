// hutch logs [-f] [--tail N] [-t]: the container's log (container_log.h) given back to the
// streams it came from; with -f, followed until the container has exited.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "base/file.h"
#include "cli/hutch/container_log.h"
#include "cli/hutch/container_verbs.h"

namespace hutch::cli {
namespace {

void print(std::string_view stream, std::string_view bytes) {
    std::FILE* out = stream == "stderr" ? stderr : stdout;
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fflush(out);
}

// Replays the whole records in buffer and keeps the unfinished last one for the next read.
void replay_complete(std::string& buffer, const LogReadOptions& options) {
    size_t end = buffer.rfind('\n');
    if (end == std::string::npos) return;
    replay_log(std::string_view(buffer).substr(0, end + 1), options, print);
    buffer.erase(0, end + 1);
}

bool has_exited(const ContainerStore& store, const std::string& id) {
    auto record = store.find(id);
    return !record || record->status == ContainerStatus::exited;
}

}  // namespace

ErrorOr<void> show_logs(const Storage& storage, const std::string& name, const LogsFlags& flags) {
    auto store = TRY(ContainerStore::open(storage.storage_root, storage.run_root));
    auto record = TRY(store.find(name));
    std::string path = store.dir(record.id) + "/ctr.log";
    UniqueFd log(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    // A container not yet started has written nothing.
    if (!log && errno != ENOENT) return fail_errno("open " + path);
    std::string buffer = log ? TRY(read_all(log.get())) : std::string();
    replay_complete(buffer, {.tail = flags.tail, .timestamps = flags.timestamps});
    if (!flags.follow) return {};
    LogReadOptions rest{.timestamps = flags.timestamps};
    for (;;) {
        // Checked before the read, so the output written before the exit is read once more.
        bool exited = has_exited(store, record.id);
        if (!log) log = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (log) buffer += TRY(read_all(log.get()));
        replay_complete(buffer, rest);
        if (exited) return {};
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace hutch::cli
