#include "images/docker_archive.h"

#include <unistd.h>

#include <array>

#include "base/json.h"
#include "base/json_reader.h"
#include "images/archive_members.h"
#include "images/image_reference.h"
#include "images/layer_stream.h"
#include "images/stored_documents.h"

namespace hutch::images {
namespace {

// manifest.json lists a few images; a bigger file is not one.
constexpr uint64_t kMaxArchiveManifest = 1 << 20;

ErrorOr<std::string> member_field(const json::Json& entry, const std::string& path, std::string_view key) {
    auto raw = TRY(json::require<std::string>(entry, path, key));
    return TRY_CTX(archive_member_path(raw), json::field_path(path, key));
}

ErrorOr<DockerArchiveImage> parse_image_entry(const json::Json& entry, const std::string& path) {
    TRY(json::expect_object(entry, path));
    DockerArchiveImage image;
    image.config = TRY(member_field(entry, path, "Config"));
    TRY(json::read(entry, path, "RepoTags", image.repo_tags));
    for (size_t i = 0; i < image.repo_tags.size(); ++i)
        TRY_CTX(parse_image_reference(image.repo_tags[i]),
                json::index_path(json::field_path(path, "RepoTags"), i));
    auto layers = TRY(json::require<std::vector<std::string>>(entry, path, "Layers"));
    for (size_t i = 0; i < layers.size(); ++i)
        image.layers.push_back(
            TRY_CTX(archive_member_path(layers[i]), json::index_path(json::field_path(path, "Layers"), i)));
    return image;
}

// The OCI media type of a stored layer, from the compression its first bytes show.
ErrorOr<std::string> layer_media_type(const ContentStore& content, const Digest& layer) {
    auto fd = TRY(content.open_blob(layer));
    std::array<std::byte, 4> head{};
    ssize_t n = pread(fd.get(), head.data(), head.size(), 0);
    if (n < 0) return fail_errno("blob " + layer.str() + ": read");
    return std::string(
        oci_layer_media_type(detect_compression(std::span(head.data(), static_cast<size_t>(n)))));
}

ErrorOr<StoredBlob> store_member(ContentStore& content, const ArchiveMembers& members,
                                 const std::string& name) {
    StoredBlob stored;
    TRY(members.read(name, [&](const BlobReader& reader) -> ErrorOr<void> {
        stored = TRY(content.ingest_computed(reader));
        return {};
    }));
    return stored;
}

nlohmann::ordered_json descriptor_json(std::string_view media_type, const StoredBlob& blob) {
    return {{"mediaType", media_type}, {"digest", blob.digest.str()}, {"size", blob.size}};
}

// Stores the image's config and layers, then the manifest hutch writes for them; returns the
// manifest's digest.
ErrorOr<Digest> import_image(ContentStore& content, const ArchiveMembers& members,
                             const DockerArchiveImage& image) {
    auto config = TRY(store_member(content, members, image.config));
    auto config_text = TRY_CTX(read_document(content, config.digest), members.shown(image.config));
    auto parsed = TRY_CTX(parse_image_config(config_text), members.shown(image.config));
    if (parsed.diff_ids.size() != image.layers.size())
        return fail(members.shown(image.config) + ": rootfs.diff_ids lists " +
                    std::to_string(parsed.diff_ids.size()) + " layers, manifest.json " +
                    std::to_string(image.layers.size()));
    auto manifest = nlohmann::ordered_json{{"schemaVersion", 2},
                                           {"mediaType", media_types::oci_manifest},
                                           {"config", descriptor_json(media_types::oci_config, config)},
                                           {"layers", nlohmann::ordered_json::array()}};
    for (const auto& layer : image.layers) {
        auto stored = TRY(store_member(content, members, layer));
        manifest["layers"].push_back(descriptor_json(TRY(layer_media_type(content, stored.digest)), stored));
    }
    std::string text = json_text(manifest);
    auto digest = TRY(digest_of(text));
    TRY(content.ingest(digest, text.size(), bytes_reader(text)));
    return digest;
}

}  // namespace

ErrorOr<std::vector<DockerArchiveImage>> parse_docker_archive_manifest(std::string_view text) {
    auto doc = json::Json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail("not valid JSON");
    TRY(json::expect_array(doc, "manifest.json"));
    if (doc.empty()) return fail("lists no images");
    std::vector<DockerArchiveImage> images;
    for (size_t i = 0; i < doc.size(); ++i)
        images.push_back(TRY(parse_image_entry(doc[i], json::index_path("", i))));
    return images;
}

ErrorOr<std::vector<ImportedImage>> import_docker_archive(ContentStore& content, ImageStore& images,
                                                          const std::string& archive_path,
                                                          const ImportOptions& options) {
    auto members = TRY(ArchiveMembers::open(archive_path));
    auto text = TRY(members.read_small("manifest.json", kMaxArchiveManifest));
    auto listed = TRY_CTX(parse_docker_archive_manifest(text), members.shown("manifest.json"));
    if (options.name && listed.size() != 1)
        return fail(members.shown("manifest.json") + ": lists " + std::to_string(listed.size()) +
                    " images; a name can be given only to an archive of one");
    std::vector<ImportedImage> imported;
    for (const auto& image : listed) {
        auto manifest = TRY(import_image(content, members, image));
        auto names = options.name ? std::vector{*options.name} : image.repo_tags;
        for (auto& named : TRY(name_imported_image(images, manifest, names, options)))
            imported.push_back(std::move(named));
    }
    return imported;
}

}  // namespace hutch::images
