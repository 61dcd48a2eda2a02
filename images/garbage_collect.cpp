// Mark and sweep of a store (garbage_collect.h).
#include "images/garbage_collect.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <memory>

#include "base/directory.h"
#include "images/image_store.h"
#include "images/in_progress.h"
#include "images/layer_store.h"
#include "images/lease.h"
#include "images/oci_documents.h"
#include "images/rooted_path.h"
#include "images/store_lock.h"
#include "images/stored_documents.h"

namespace hutch::images {
namespace {

constexpr std::string_view kTrashPrefix = ".trash-";
constexpr std::string_view kUnpackPrefix = ".tmp-";  // layer_dir.h

// What something needs: blobs by digest ("sha256:<hex>"), layers by chain ID hex.
struct Marks {
    std::set<std::string> blobs;
    std::set<std::string> layers;
};

bool is_hex64(std::string_view name) {
    return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The apparent size of the regular files under path (symlinks not followed).
uint64_t tree_bytes(const std::string& path) {
    static thread_local uint64_t total;
    total = 0;
    auto add = [](const char*, const struct stat* st, int type, FTW*) {
        if (type == FTW_F && S_ISREG(st->st_mode)) total += static_cast<uint64_t>(st->st_size);
        return 0;
    };
    (void)nftw(path.c_str(), add, 16, FTW_PHYS);
    return total;
}

// The store, with the lock held for as long as it lives.
class Collector {
public:
    static ErrorOr<Collector> open(const std::string& root) {
        UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd) return fail_errno("open " + root);
        auto lock_fd = TRY(open_store_lock(root_fd.get(), root));
        return Collector(root, std::move(root_fd), std::move(lock_fd));
    }

    ErrorOr<StoreLock> lock() const { return StoreLock::take(lock_fd_.get(), LOCK_EX, root_); }
    int root_fd() const { return root_fd_.get(); }

    // Marks the image (a manifest or an index) and what it reaches. A blob that is not stored
    // needs nothing more; one that is stored but cannot be read or parsed stops the collection,
    // as what it references cannot be known.
    ErrorOr<void> mark_image(const Digest& digest, Marks& marks, int depth = 0) const {
        if (!marks.blobs.insert(digest.str()).second) return {};
        auto text = TRY(read_stored(digest));
        if (!text) return {};
        if (auto manifest = parse_image_manifest(*text))
            return mark_manifest(*manifest, marks);
        else if (auto index = parse_image_index(*text); index && depth == 0) {
            for (const auto& entry : index->manifests) TRY(mark_image(entry.digest, marks, depth + 1));
            return {};
        } else
            return fail("manifest " + digest.str() + ": " + manifest.error().message);
    }

    // Removes the blobs in doomed; returns what went.
    ErrorOr<void> sweep_blobs(const std::function<bool(const std::string&)>& doomed, Collected& out) const {
        UniqueFd blobs(openat(root_fd_.get(), "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!blobs) return errno == ENOENT ? ErrorOr<void>{} : fail_errno("open " + root_ + "/blobs");
        for (const auto& [algorithm, type] : TRY_CTX(list_directory_at(blobs.get()), root_ + "/blobs")) {
            std::string shown = root_ + "/blobs/" + algorithm;
            auto dir = TRY(open_dir_at(blobs.get(), algorithm));
            for (const auto& [hex, hex_type] : TRY_CTX(list_directory_at(dir.get()), shown)) {
                std::string digest = algorithm + ":" + hex;
                if (!doomed(digest)) continue;
                struct stat st {};
                if (fstatat(dir.get(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
                    continue;
                if (unlinkat(dir.get(), hex.c_str(), 0) == -1)
                    return fail_errno("remove " + shown + "/" + hex);
                out.blobs.push_back(digest);
                out.bytes += static_cast<uint64_t>(st.st_size);
            }
        }
        return {};
    }

    // Moves each layer in doomed to the trash, then empties the trash (this run's and any a
    // crashed one left).
    ErrorOr<void> sweep_layers(const std::function<bool(const std::string&)>& doomed, Collected& out) const {
        std::string layers = root_ + "/layers";
        UniqueFd layers_fd(openat(root_fd_.get(), "layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!layers_fd) return errno == ENOENT ? ErrorOr<void>{} : fail_errno("open " + layers);
        for (const auto& [name, type] : TRY_CTX(list_directory_at(layers_fd.get()), layers)) {
            // Others starting with '.': unpacks (layer_dir.h's .tmp-*) and trash, below.
            if (!is_hex64(name) || !doomed(name)) continue;
            out.bytes += tree_bytes(layers + "/" + name);
            std::string trash = std::string(kTrashPrefix) + name;
            TRY(remove_tree_at(layers_fd.get(), trash));  // a crashed run's, of the same layer
            if (renameat(layers_fd.get(), name.c_str(), layers_fd.get(), trash.c_str()) == -1)
                return fail_errno("rename " + layers + "/" + name + " to " + trash);
            out.layers.push_back("sha256:" + name);
        }
        for (const auto& [name, type] : TRY_CTX(list_directory_at(layers_fd.get()), layers)) {
            bool left_behind = name.starts_with(kTrashPrefix) ||
                               (name.starts_with(kUnpackPrefix) &&
                                TRY(is_abandoned(layers_fd.get(), name, layers + "/" + name)));
            if (!left_behind) continue;
            out.bytes += tree_bytes(layers + "/" + name);
            TRY_CTX(remove_tree_at(layers_fd.get(), name), layers);
        }
        return {};
    }

    // Removes the ingest files that a pull or load killed halfway left behind (in_progress.h).
    ErrorOr<void> sweep_ingest(Collected& out) const {
        std::string ingest = root_ + "/ingest";
        UniqueFd dir(openat(root_fd_.get(), "ingest", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir) return errno == ENOENT ? ErrorOr<void>{} : fail_errno("open " + ingest);
        for (const auto& [name, type] : TRY_CTX(list_directory_at(dir.get()), ingest)) {
            if (type != DT_REG || !TRY(is_abandoned(dir.get(), name, ingest + "/" + name))) continue;
            struct stat st {};
            if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
                out.bytes += static_cast<uint64_t>(st.st_size);
            if (unlinkat(dir.get(), name.c_str(), 0) == -1 && errno != ENOENT)
                return fail_errno("remove " + ingest + "/" + name);
        }
        return {};
    }

private:
    Collector(std::string root, UniqueFd root_fd, UniqueFd lock_fd)
        : root_(std::move(root)), root_fd_(std::move(root_fd)), lock_fd_(std::move(lock_fd)) {}

    // A blob's text; nullopt when it is not stored.
    ErrorOr<std::optional<std::string>> read_stored(const Digest& digest) const {
        std::string path = "blobs/" + digest.algorithm + "/" + digest.hex;
        UniqueFd fd(openat(root_fd_.get(), path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) {
            if (errno == ENOENT) return std::nullopt;
            return fail_errno("open " + root_ + "/" + path);
        }
        return TRY(read_document_fd(fd.get(), digest));
    }

    ErrorOr<void> mark_manifest(const ImageManifest& manifest, Marks& marks) const {
        marks.blobs.insert(manifest.config.digest.str());
        for (const auto& layer : manifest.layers) marks.blobs.insert(layer.digest.str());
        auto text = TRY(read_stored(manifest.config.digest));
        if (!text) return {};  // without its config no chain ID can be known: no layer is there
        auto config = TRY_CTX(parse_image_config(*text), "config " + manifest.config.digest.str());
        for (const auto& chain_id : TRY(chain_ids(config.diff_ids))) marks.layers.insert(chain_id.hex);
        return {};
    }

    std::string root_;
    UniqueFd root_fd_;
    UniqueFd lock_fd_;
};

// The roots: names, leases, containers (in that order: see the header).
ErrorOr<Marks> mark_roots(const Collector& store, const std::string& root,
                          const std::function<ErrorOr<InUse>()>& containers) {
    Marks marks;
    for (const auto& [name, manifest] : TRY(read_image_names(store.root_fd(), root)))
        TRY_CTX(store.mark_image(manifest, marks), name);
    for (const auto& held : TRY(live_leases(store.root_fd(), root))) {
        marks.blobs.insert(held);
        if (auto digest = parse_digest(held)) marks.layers.insert(digest->hex);
    }
    auto in_use = TRY(containers());
    for (const auto& manifest : in_use.manifests) {
        auto digest = TRY(parse_digest(manifest));
        TRY_CTX(store.mark_image(digest, marks), "a container's image");
    }
    for (const auto& dir : in_use.layer_dirs) {
        // ROOT/layers/<hex>/diff: the chain ID is the directory above diff.
        auto end = dir.rfind("/diff");
        auto start = end == std::string::npos ? end : dir.rfind('/', end - 1);
        if (start != std::string::npos) marks.layers.insert(dir.substr(start + 1, end - start - 1));
    }
    return marks;
}

}  // namespace

ErrorOr<Collected> collect_garbage(const std::string& root, const std::function<ErrorOr<InUse>()>& containers,
                                   const CollectOptions& options) {
    auto store = TRY(Collector::open(root));
    auto lock = TRY(store.lock());
    Marks kept = TRY(mark_roots(store, root, containers));
    std::optional<Marks> reached;
    if (options.only_reached_from) {
        reached.emplace();
        for (const auto& manifest : *options.only_reached_from) TRY(store.mark_image(manifest, *reached));
    }
    Collected out;
    TRY(store.sweep_blobs(
        [&](const std::string& digest) {
            return !kept.blobs.contains(digest) && (!reached || reached->blobs.contains(digest));
        },
        out));
    TRY(store.sweep_layers(
        [&](const std::string& hex) {
            return !kept.layers.contains(hex) && (!reached || reached->layers.contains(hex));
        },
        out));
    TRY(store.sweep_ingest(out));
    return out;
}

}  // namespace hutch::images
