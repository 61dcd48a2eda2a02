// `update`: new limits for a live container, written straight into its cgroups (the backend's:
// the host's, or the microVM guest's). Nothing else is recorded: the limits live in the cgroup
// files.
#include <unistd.h>

#include "base/file.h"
#include "runtime/backend.h"
#include "runtime/runtime.h"

namespace hutch::runtime {
namespace {

ErrorOr<std::string> read_stdin() {
    std::string out;
    char buf[8192];
    for (ssize_t n; (n = ::read(STDIN_FILENO, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("--resources: read stdin");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// The --resources document: a file, or "-" for stdin; none when the flag is not given.
ErrorOr<std::optional<std::string>> read_resources_document(const std::string& source) {
    if (source.empty()) return std::nullopt;
    if (source == "-") return TRY(read_stdin());
    return TRY_CTX(read_file(source), "--resources");
}

}  // namespace

ErrorOr<void> update(const std::string& root, const std::string& id, const UpdateFlags& flags) {
    auto container = TRY(Container::open(root, id));
    if (container.status() == Status::stopped)
        return fail("cannot update container " + id + ": container not running");
    std::optional<std::string> document = TRY(read_resources_document(flags.resources));
    spec::Resources resources = TRY(update_resources(document, flags));
    return backend_of(container.state).update(container, resources);
}

}  // namespace hutch::runtime
