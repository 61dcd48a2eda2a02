#include "images/rootfs_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>

#include "base/fd.h"
#include "base/file.h"
#include "base/json.h"
#include "images/directory_tar.h"
#include "images/gzip_writer.h"
#include "images/layer_stream.h"
#include "images/oci_documents.h"

namespace hutch::images {
namespace {

std::string_view as_text(std::span<const std::byte> data) {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}

ErrorOr<StoredBlob> store_from_start(ContentStore& content, int fd, const std::string& shown) {
    if (lseek(fd, 0, SEEK_SET) != 0) return fail_errno(shown + ": seek");
    return TRY_CTX(content.ingest_computed(fd_reader(fd)), shown);
}

nlohmann::ordered_json descriptor_json(std::string_view media_type, const StoredBlob& blob) {
    return {{"mediaType", media_type}, {"digest", blob.digest.str()}, {"size", blob.size}};
}

}  // namespace

ErrorOr<ImportedLayer> import_directory_layer(ContentStore& content, const std::string& directory) {
    // The gzip'd layer goes to an unnamed file beside the store (O_TMPFILE: nothing is left
    // behind whatever happens), then into the store, which hashes it on the way in.
    UniqueFd temp(open(content.root().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!temp) return fail_errno(content.root() + ": temporary file");
    auto gzip = TRY(GzipWriter::create(
        [fd = temp.get()](std::span<const std::byte> data) { return write_all(fd, as_text(data)); }));
    auto diff = TRY(Hasher::create());
    auto tar = TRY(TarWriter::open([&](std::span<const std::byte> data) -> ErrorOr<void> {
        diff.update(data);
        return gzip->write(data);
    }));
    TRY(write_directory_tar(directory, *tar));
    TRY_CTX(tar->close(), directory);
    TRY_CTX(gzip->finish(), directory);
    auto blob = TRY(store_from_start(content, temp.get(), directory));
    return ImportedLayer{blob, std::string(oci_layer_media_type(Compression::gzip)), TRY(diff.finish())};
}

ErrorOr<ImportedLayer> import_tarball_layer(ContentStore& content, const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno(path);
    std::array<std::byte, 4> head{};
    ssize_t n = pread(fd.get(), head.data(), head.size(), 0);
    if (n < 0) return fail_errno(path);
    Compression compression = detect_compression(std::span(head.data(), static_cast<size_t>(n)));
    auto stream = TRY_CTX(LayerStream::open(fd.get(), compression), path);
    auto diff_id = TRY_CTX(stream->finish(), path);
    auto blob = TRY(store_from_start(content, fd.get(), path));
    return ImportedLayer{blob, std::string(oci_layer_media_type(compression)), diff_id};
}

nlohmann::ordered_json single_layer_config(const Digest& diff_id, const nlohmann::ordered_json& run_config,
                                           std::string_view created, std::string_view comment) {
    Platform platform = host_platform();
    nlohmann::ordered_json config{
        {"created", created}, {"architecture", platform.architecture}, {"os", platform.os}};
    if (!platform.variant.empty()) config["variant"] = platform.variant;
    config["config"] = run_config.is_object() ? run_config : nlohmann::ordered_json::object();
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff_id.str()}}};
    config["history"] = {{{"created", created}, {"created_by", "hutch import"}, {"comment", comment}}};
    return config;
}

ErrorOr<Digest> store_single_layer_image(ContentStore& content, const ImportedLayer& layer,
                                         const nlohmann::ordered_json& config) {
    std::string config_text = json_text(config);
    auto config_digest = TRY(digest_of(config_text));
    TRY(content.ingest(config_digest, config_text.size(), bytes_reader(config_text)));
    nlohmann::ordered_json manifest{
        {"schemaVersion", 2},
        {"mediaType", media_types::oci_manifest},
        {"config", descriptor_json(media_types::oci_config, {config_digest, config_text.size()})},
        {"layers", {descriptor_json(layer.media_type, layer.blob)}}};
    std::string text = json_text(manifest);
    auto digest = TRY(digest_of(text));
    TRY(content.ingest(digest, text.size(), bytes_reader(text)));
    return digest;
}

}  // namespace hutch::images
