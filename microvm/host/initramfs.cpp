#include "microvm/host/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <memory>

#include "base/file.h"

namespace hutch::microvm::host {

namespace {

using Archive = std::unique_ptr<archive, int (*)(archive*)>;
using Entry = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

ErrorOr<void> add_entry(archive* a, const std::string& name, mode_t type_and_mode,
                        const std::string& data = "", dev_t rdev = 0) {
    Entry e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_mode(e.get(), type_and_mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_rdev(e.get(), rdev);
    archive_entry_set_nlink(e.get(), S_ISDIR(type_and_mode) ? 2 : 1);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) return fail(name + ": " + archive_error_string(a));
    if (!data.empty() &&
        archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
        return fail(name + ": " + archive_error_string(a));
    return {};
}

ErrorOr<void> write_cpio(const std::string& path, const std::string& agent) {
    Archive a(archive_write_new(), archive_write_free);
    if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK ||
        archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK)
        return fail(path + ": " + archive_error_string(a.get()));
    for (const char* dir : {"dev", "proc", "sys"}) TRY(add_entry(a.get(), dir, S_IFDIR | 0755));
    TRY(add_entry(a.get(), "dev/console", S_IFCHR | 0600, "", makedev(5, 1)));
    TRY(add_entry(a.get(), "init", S_IFREG | 0755, agent));
    if (archive_write_close(a.get()) != ARCHIVE_OK) return fail(path + ": " + archive_error_string(a.get()));
    return {};
}

}  // namespace

ErrorOr<std::string> agent_initramfs(const std::string& agent_binary, const std::string& cache_dir) {
    struct stat st {};
    if (::stat(agent_binary.c_str(), &st) != 0) return fail_errno("the guest agent " + agent_binary);
    std::string path = cache_dir + "/agent-" + std::to_string(st.st_size) + "-" +
                       std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "-" +
                       std::to_string(st.st_ino) + ".cpio";
    if (::access(path.c_str(), R_OK) == 0) return path;
    if (::mkdir(cache_dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir " + cache_dir);
    std::string agent = TRY(read_file(agent_binary));
    std::string temp = path + ".XXXXXX";
    int fd = ::mkstemp(temp.data());
    if (fd < 0) return fail_errno("create a temporary file in " + cache_dir);
    ::close(fd);
    auto written = write_cpio(temp, agent);
    if (written && ::rename(temp.c_str(), path.c_str()) != 0) written = fail_errno("rename " + temp);
    if (!written) {
        ::unlink(temp.c_str());
        return std::unexpected(written.error().context("initramfs"));
    }
    return path;
}

}  // namespace hutch::microvm::host
