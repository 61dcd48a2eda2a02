// The benchmark's driver for hutch's layer unpacker (bench/unpack.sh), a bench-only target
// (hutch-bench-unpack, built with hutch_images). Two ways, both through the code `hutch pull` runs:
//   layer BLOB DIR [MEDIA_TYPE]   unpack_layer() of one layer blob into DIR (made, 0755, as the
//                                 layer store makes diff/), overlay whiteouts, the diffID computed
//                                 on the way and printed: what the layer store does per layer
//   image LAYOUT ROOT             `hutch load -i LAYOUT` into the storage root ROOT (every blob
//                                 copied, hashed and fsynced), then LayerStore::prepare_image:
//                                 what `hutch pull` does once the blobs are fetched
// Prints one line (the diffID, or the diff directories); any failure is one line and status 1.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/guarded_main.h"
#include "images/content_store.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_layout.h"
#include "images/unpack.h"

using namespace hutch;

namespace {

ErrorOr<UniqueFd> open_checked(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd == -1) return fail_errno("open " + path);
    return UniqueFd(fd);
}

ErrorOr<void> unpack_one_layer(const std::string& blob_path, const std::string& dir,
                               std::optional<std::string> media_type) {
    auto blob = TRY(open_checked(blob_path, O_RDONLY));
    if (mkdir(dir.c_str(), 0755) == -1) return fail_errno("mkdir " + dir);
    auto root = TRY(open_checked(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    images::UnpackOptions options{images::WhiteoutMode::overlay, std::move(media_type)};
    auto diff_id = TRY_CTX(images::unpack_layer(blob.get(), root.get(), options), blob_path);
    std::printf("%s\n", diff_id.str().c_str());
    return {};
}

ErrorOr<void> load_and_prepare(const std::string& layout, const std::string& storage_root) {
    auto content = TRY(images::ContentStore::open(storage_root));
    auto store = TRY(images::ImageStore::open(storage_root));
    auto imported = TRY_CTX(images::import_oci_layout(content, store, layout), layout);
    auto layers = TRY(images::LayerStore::open(content));
    for (const auto& image : imported) {
        for (const auto& dir : TRY(layers.prepare_image(image.manifest))) std::printf("%s\n", dir.c_str());
    }
    return {};
}

ErrorOr<void> run(const std::vector<std::string>& args) {
    if (args.size() >= 3 && args.size() <= 4 && args[0] == "layer")
        return unpack_one_layer(args[1], args[2], args.size() == 4 ? std::optional(args[3]) : std::nullopt);
    if (args.size() == 3 && args[0] == "image") return load_and_prepare(args[1], args[2]);
    return fail("usage: hutch-bench-unpack layer BLOB DIR [MEDIA_TYPE] | image LAYOUT STORAGE_ROOT");
}

int report(const std::string& message) {
    std::fprintf(stderr, "hutch-bench-unpack: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    return run_guarded(
        [&] {
            auto result = run(std::vector<std::string>(argv + 1, argv + argc));
            return result ? 0 : report(result.error().message);
        },
        [](const char* what) noexcept { return report(what); });
}
