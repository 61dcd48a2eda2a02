#include "microvm/host/erofs_image.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "microvm/host/tool.h"

namespace hutch::microvm::host {

namespace {

std::string parent_of(const std::string& path) {
    auto slash = path.find_last_not_of('/');
    slash = slash == std::string::npos ? std::string::npos : path.rfind('/', slash);
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

ErrorOr<std::string> layer_erofs_image(const std::string& diff_dir) {
    std::string layer = parent_of(diff_dir);
    std::string image = layer + "/erofs.img";
    if (exists(image)) return image;
    std::string temp = layer + "/.erofs.img.XXXXXX";
    int fd = ::mkstemp(temp.data());
    if (fd < 0) return fail_errno("create a temporary file in " + layer);
    ::close(fd);
    // --quiet: mkfs.erofs prints its statistics on stdout. No compression: the guest reads the
    // files in place, and the image is built in the time a copy takes.
    auto built = run_tool({"mkfs.erofs", "--quiet", temp, diff_dir});
    if (built && ::rename(temp.c_str(), image.c_str()) != 0)
        built = fail_errno("rename " + temp + " to " + image);
    if (!built) {
        ::unlink(temp.c_str());
        return std::unexpected(built.error().context("erofs image of " + diff_dir));
    }
    return image;
}

ErrorOr<std::vector<std::string>> layer_images(const std::vector<std::string>& diff_dirs_top_first) {
    std::vector<std::string> images;
    for (auto it = diff_dirs_top_first.rbegin(); it != diff_dirs_top_first.rend(); ++it)
        images.push_back(TRY(layer_erofs_image(*it)));
    return images;
}

}  // namespace hutch::microvm::host
