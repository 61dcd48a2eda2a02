// Leases (lease.h).
#include "images/lease.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <memory>
#include <sstream>
#include <vector>

#include "base/directory.h"
#include "base/file.h"

namespace hutch::images {
namespace {

ErrorOr<std::string> random_hex() {
    std::array<unsigned char, 8> random{};
    if (getrandom(random.data(), random.size(), 0) != static_cast<ssize_t>(random.size()))
        return fail_errno("getrandom");
    std::string hex;
    for (unsigned char byte : random)
        hex += "0123456789abcdef"[byte >> 4], hex += "0123456789abcdef"[byte & 0xf];
    return hex;
}

ErrorOr<UniqueFd> open_leases_dir(int root_fd, const std::string& root) {
    if (mkdirat(root_fd, "leases", 0700) == -1 && errno != EEXIST)
        return fail_errno("mkdir " + root + "/leases");
    UniqueFd dir(openat(root_fd, "leases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return fail_errno("open " + root + "/leases");
    return dir;
}

// The lines of a live lease; nullopt when it was dead (and is now removed) or gone.
ErrorOr<std::optional<std::string>> read_live_lease(int dir_fd, const std::string& name,
                                                    const std::string& shown) {
    UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;  // its holder just finished
        return fail_errno("open " + shown);
    }
    if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        // Nobody holds it: the process that took it died before removing it.
        if (unlinkat(dir_fd, name.c_str(), 0) == -1 && errno != ENOENT) return fail_errno("remove " + shown);
        return std::nullopt;
    }
    if (errno != EWOULDBLOCK) return fail_errno("flock " + shown);
    return TRY_CTX(read_all(fd.get()), shown);
}

}  // namespace

ErrorOr<Lease> Lease::take(int root_fd, const std::string& root) {
    auto dir = TRY(open_leases_dir(root_fd, root));
    std::string name = TRY(random_hex());
    std::string temp = ".new-" + name;
    UniqueFd fd(openat(dir.get(), temp.c_str(),
                       O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("create " + root + "/leases/" + temp);
    // Locked under a name the collector skips, and only then given its own: a collector never
    // mistakes a lease being made for a dead one.
    if (flock(fd.get(), LOCK_EX) == -1 || renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) == -1) {
        auto error = fail_errno("lease " + root + "/leases/" + name);
        unlinkat(dir.get(), temp.c_str(), 0);
        return error;
    }
    return Lease(std::move(dir), std::move(fd), std::move(name));
}

Lease::~Lease() {
    if (!name_.empty()) unlinkat(dir_fd_.get(), name_.c_str(), 0);
}

ErrorOr<void> Lease::add(const Digest& digest) {
    // One write of one line (O_APPEND): a reader sees it whole or not at all.
    TRY_CTX(write_all(fd_.get(), digest.str() + "\n"), "lease " + name_);
    return {};
}

ErrorOr<std::set<std::string>> live_leases(int root_fd, const std::string& root) {
    auto dir = TRY(open_leases_dir(root_fd, root));
    std::set<std::string> held;
    for (const auto& [name, type] : TRY_CTX(list_directory_at(dir.get()), root + "/leases")) {
        // ".new-*": a lease being made, not yet locked (see take); not read, never removed here.
        if (name.starts_with(".")) continue;
        auto text = TRY(read_live_lease(dir.get(), name, root + "/leases/" + name));
        if (!text) continue;
        std::istringstream lines(*text);
        for (std::string line; std::getline(lines, line);) held.insert(line);
    }
    return held;
}

}  // namespace hutch::images
