#include "images/stored_documents.h"

#include <sys/stat.h>

#include "base/file.h"

namespace hutch::images {

ErrorOr<std::string> read_document(const ContentStore& store, const Digest& digest) {
    auto fd = TRY(store.open_blob(digest));
    return read_document_fd(fd.get(), digest);
}

ErrorOr<std::string> read_document_fd(int fd, const Digest& digest) {
    struct stat st {};
    if (fstat(fd, &st) == -1) return fail_errno("blob " + digest.str() + ": stat");
    if (static_cast<uint64_t>(st.st_size) > kMaxDocumentSize)
        return fail("blob " + digest.str() + ": " + std::to_string(st.st_size) +
                    " bytes, more than a document's " + std::to_string(kMaxDocumentSize));
    return TRY_CTX(read_all(fd), "blob " + digest.str());
}

ErrorOr<ImageManifest> load_manifest(const ContentStore& store, const Digest& digest) {
    auto text = TRY(read_document(store, digest));
    return TRY_CTX(parse_image_manifest(text), "manifest " + digest.str());
}

ErrorOr<ImageConfig> load_config(const ContentStore& store, const ImageManifest& manifest) {
    const Digest& digest = manifest.config.digest;
    auto text = TRY(read_document(store, digest));
    auto config = TRY_CTX(parse_image_config(text), "config " + digest.str());
    if (config.diff_ids.size() != manifest.layers.size())
        return fail("config " + digest.str() + ": rootfs.diff_ids lists " +
                    std::to_string(config.diff_ids.size()) + " layers, the manifest " +
                    std::to_string(manifest.layers.size()));
    return config;
}

}  // namespace hutch::images
