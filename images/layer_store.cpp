#include "images/layer_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "images/layer_dir.h"
#include "images/rooted_path.h"
#include "images/store_lock.h"
#include "images/stored_documents.h"
#include "images/unpack.h"

namespace hutch::images {

ErrorOr<std::vector<Digest>> chain_ids(const std::vector<Digest>& diff_ids) {
    std::vector<Digest> chain;
    for (const auto& diff_id : diff_ids) {
        if (chain.empty())
            chain.push_back(diff_id);
        else
            chain.push_back(TRY(digest_of(chain.back().str() + " " + diff_id.str())));
    }
    return chain;
}

ErrorOr<LayerStore> LayerStore::open(const ContentStore& content) {
    std::string layers = content.root() + "/layers";
    if (mkdir(layers.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + layers);
    int fd = ::open(layers.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + layers);
    UniqueFd layers_fd(fd);
    UniqueFd root_fd(::open(content.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return fail_errno("open " + content.root());
    auto lock = TRY(open_store_lock(root_fd.get(), content.root()));
    return LayerStore(content, layers, std::move(layers_fd), std::move(lock));
}

std::string LayerStore::diff_dir(const Digest& chain_id) const {
    return layers_ + "/" + chain_id.hex + "/diff";
}

ErrorOr<bool> LayerStore::has_layer(const Digest& chain_id) const {
    // Leased first, and looked up under the lock a collection sweeps under: a layer found here
    // is not removed while the lease lives.
    TRY(content_->hold(chain_id));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_SH, content_->root()));
    struct stat st {};
    if (fstatat(layers_fd_.get(), chain_id.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISDIR(st.st_mode);
    if (errno == ENOENT) return false;
    return fail_errno("stat " + layers_ + "/" + chain_id.hex);
}

ErrorOr<void> LayerStore::unpack(const Descriptor& layer, const Digest& diff_id, const Digest& chain_id) {
    auto blob = TRY(content_->open_blob(layer.digest));
    auto temp = TRY(TempLayerDir::create(layers_fd_.get(), lock_fd_.get(), chain_id, layers_));
    auto diff = TRY(open_dir_at(layers_fd_.get(), temp.name() + "/diff"));
    UnpackOptions options{WhiteoutMode::overlay, layer.media_type};
    auto actual = TRY_CTX(unpack_layer(blob.get(), diff.get(), options), "layer " + layer.digest.str());
    return commit_layer(temp, layers_fd_.get(), layers_, layer.digest, actual, diff_id, chain_id);
}

ErrorOr<std::vector<std::string>> LayerStore::prepare_image(const Digest& manifest_digest) {
    auto manifest = TRY(load_manifest(*content_, manifest_digest));
    auto config = TRY(load_config(*content_, manifest));
    auto chain = TRY(chain_ids(config.diff_ids));
    std::vector<std::string> lower_dirs;
    for (size_t i = 0; i < manifest.layers.size(); ++i) {
        if (!TRY(has_layer(chain[i]))) TRY(unpack(manifest.layers[i], config.diff_ids[i], chain[i]));
        lower_dirs.insert(lower_dirs.begin(), diff_dir(chain[i]));
    }
    return lower_dirs;
}

}  // namespace hutch::images
