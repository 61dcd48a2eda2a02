#include "cgroups/cgroup_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/directory.h"
#include "base/fd.h"
#include "base/file.h"

namespace hutch::cgroups {
namespace {

std::string parent_of(const std::string& dir) {
    size_t slash = dir.find_last_of('/');
    return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

bool cgroup_file_exists(const std::string& dir, std::string_view file) {
    return ::access((dir + "/" + std::string(file)).c_str(), F_OK) == 0;
}

ErrorOr<void> write_cgroup_lines(const std::string& dir, std::string_view file,
                                 std::span<const std::string> values, std::string_view field) {
    std::string path = dir + "/" + std::string(file);
    auto what = [&](std::string_view value) {
        return std::string(field) + ": write " + std::string(value) + " to " + path;
    };
    if (values.empty()) return {};
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd && errno == ENOENT)
        return fail(what(values.front()) + ": not offered by this host's kernel (no such file)");
    if (!fd) return fail_errno(what(values.front()));
    // A control file takes its value in a single write(); the kernel's answer to that one is final.
    for (const std::string& value : values)
        if (::write(fd.get(), value.data(), value.size()) < 0) return fail_errno(what(value));
    return {};
}

ErrorOr<void> write_cgroup_file(const std::string& dir, std::string_view file, std::string_view value,
                                std::string_view field) {
    std::string one(value);
    return write_cgroup_lines(dir, file, std::span(&one, 1), field);
}

ErrorOr<std::string> read_cgroup_file(const std::string& dir, std::string_view file) {
    std::string text = TRY(read_file(dir + "/" + std::string(file)));
    size_t end = text.find_last_not_of(" \t\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    size_t start = text.find_first_not_of(" \t\n");
    text.erase(0, start == std::string::npos ? text.size() : start);
    return text;
}

ErrorOr<void> make_cgroup_dirs(const std::string& dir, std::vector<std::string>& created) {
    // Usually the parent exists: one mkdir.
    if (::mkdir(dir.c_str(), 0755) == 0) {
        created.push_back(dir);
        return {};
    }
    if (errno == EEXIST) return {};  // not made here, so not ours
    if (errno != ENOENT) return fail_errno("cgroups: mkdir " + dir);
    // Walk up to the deepest directory that exists (at worst the hierarchy's mountpoint), then
    // create downwards, so that exactly the directories made here are recorded.
    std::vector<std::string> missing;
    for (std::string at = dir; !is_directory(at); at = parent_of(at)) {
        if (at == "/") return fail("cgroups: mkdir " + dir + ": no existing parent directory");
        missing.push_back(at);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0755) == 0) {
            created.push_back(*it);
        } else if (errno != EEXIST) {  // EEXIST: someone else made it meanwhile, so it is not ours
            return fail_errno("cgroups: mkdir " + *it);
        }
    }
    return {};
}

bool try_remove_cgroup_dir(const std::string& dir) { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; }

ErrorOr<void> remove_cgroup_dir(const std::string& dir) {
    using namespace std::chrono_literals;
    // EBUSY while the processes just killed still exit: freeing a large process's memory, on a loaded
    // host, can take seconds.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
            return fail_errno("cgroups: rmdir " + dir);
        std::this_thread::sleep_for(5ms);
    }
}

ErrorOr<void> remove_cgroup_tree(const std::string& dir) {
    auto entries = list_directory(dir);
    if (!entries && entries.error().code == ENOENT) return {};
    if (!entries) return std::unexpected(entries.error().context("cgroups"));
    std::vector<std::string> children;
    for (const auto& [name, type] : *entries)
        if (type == DT_DIR) children.push_back(dir + "/" + name);
    for (const std::string& child : children) TRY(remove_cgroup_tree(child));
    return remove_cgroup_dir(dir);
}

}  // namespace hutch::cgroups
