#include "images/layer_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>

#include "images/in_progress.h"
#include "images/rooted_path.h"
#include "images/store_lock.h"

namespace hutch::images {

ErrorOr<TempLayerDir> TempLayerDir::create(int layers_fd, int store_lock_fd, const Digest& chain_id,
                                           const std::string& layers) {
    std::array<unsigned char, 8> random{};
    if (getrandom(random.data(), random.size(), 0) != static_cast<ssize_t>(random.size()))
        return fail_errno("getrandom");
    std::string name = ".tmp-" + chain_id.hex.substr(0, 16) + "-";
    for (unsigned char byte : random)
        name += "0123456789abcdef"[byte >> 4], name += "0123456789abcdef"[byte & 0xf];
    auto store_lock = TRY(StoreLock::take(store_lock_fd, LOCK_SH, layers));
    if (mkdirat(layers_fd, name.c_str(), 0700) == -1) return fail_errno("mkdir " + layers + "/" + name);
    TempLayerDir temp(layers_fd, name);
    temp.locked_ = TRY(open_dir_at(layers_fd, name));
    TRY(lock_in_progress(temp.locked_.get(), layers + "/" + name));
    // diff/ is what overlayfs shows as the layer's root: its mode is the merged root's.
    if (mkdirat(layers_fd, (name + "/diff").c_str(), 0755) == -1)
        return fail_errno("mkdir " + layers + "/" + name + "/diff");
    return temp;
}

TempLayerDir::~TempLayerDir() {
    if (!name_.empty()) (void)remove_tree_at(dirfd_, name_);
}

ErrorOr<void> commit_layer(TempLayerDir& temp, int layers_fd, const std::string& layers, const Digest& layer,
                           const Digest& actual, const Digest& diff_id, const Digest& chain_id) {
    if (actual != diff_id)
        return fail("layer " + layer.str() + ": diffID is " + actual.str() + ", the config says " +
                    diff_id.str());
    if (renameat2(layers_fd, temp.name().c_str(), layers_fd, chain_id.hex.c_str(), RENAME_NOREPLACE) == -1) {
        // Another process put the same layer in place first: its copy is as good, ours goes.
        if (errno == EEXIST || errno == ENOTEMPTY) return {};
        return fail_errno("rename " + layers + "/" + temp.name() + " to " + chain_id.hex);
    }
    temp.committed();
    return {};
}

}  // namespace hutch::images
