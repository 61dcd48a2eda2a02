#include "images/oci_layout.h"

#include "images/json_fields.h"
#include "images/layout_source.h"
#include "images/stored_documents.h"

namespace hutch::images {
namespace {

// An index may list indexes; real ones nest once (a layout's index.json over a multi-platform
// index). The limit stops a hostile layout's cycle of indexes.
constexpr int kMaxIndexDepth = 4;

struct Walk {
    LayoutSource& source;
    ContentStore& store;
    Platform platform;
};

// Stores a blob unless it is stored already (a stored blob was checked against its digest,
// which fixes its size too).
ErrorOr<void> ingest_blob(Walk& walk, const Descriptor& descriptor) {
    if (TRY(walk.store.has(descriptor.digest))) return {};
    return walk.source.ingest(walk.store, descriptor);
}

ErrorOr<void> ingest_document(Walk& walk, const Descriptor& descriptor, const std::string& what) {
    if (descriptor.size > kMaxDocumentSize)
        return fail(what + " " + descriptor.digest.str() + ": " + std::to_string(descriptor.size) +
                    " bytes, more than a document's " + std::to_string(kMaxDocumentSize));
    return ingest_blob(walk, descriptor);
}

ErrorOr<void> import_manifest(Walk& walk, const Descriptor& descriptor) {
    TRY(ingest_document(walk, descriptor, "manifest"));
    auto manifest = TRY(load_manifest(walk.store, descriptor.digest));
    const auto& config_type = manifest.config.media_type;
    if (config_type != media_types::oci_config && config_type != media_types::docker_config)
        return fail("manifest " + descriptor.digest.str() + ": config.mediaType: '" + config_type +
                    "' is not an image config");
    TRY(ingest_document(walk, manifest.config, "config"));
    TRY(load_config(walk.store, manifest));
    for (const auto& layer : manifest.layers) TRY(ingest_blob(walk, layer));
    return {};
}

// Imports what descriptor names; returns the digest of the manifest it comes to.
ErrorOr<Digest> import_descriptor(Walk& walk, const Descriptor& descriptor, int depth) {
    if (is_manifest_media_type(descriptor.media_type)) {
        TRY(import_manifest(walk, descriptor));
        return descriptor.digest;
    }
    if (!is_index_media_type(descriptor.media_type))
        return fail(descriptor.digest.str() + ": mediaType '" + descriptor.media_type +
                    "' is neither an image index nor a manifest");
    if (depth >= kMaxIndexDepth) return fail(descriptor.digest.str() + ": indexes nested too deep");
    TRY(ingest_document(walk, descriptor, "index"));
    auto text = TRY(read_document(walk.store, descriptor.digest));
    auto index = TRY_CTX(parse_image_index(text), "index " + descriptor.digest.str());
    auto chosen = TRY_CTX(select_platform(index, walk.platform), "index " + descriptor.digest.str());
    return import_descriptor(walk, chosen, depth + 1);
}

ErrorOr<void> check_layout_version(LayoutSource& source) {
    auto text = TRY(source.read_top("oci-layout"));
    auto doc = TRY_CTX(json_fields::parse_object(text), "oci-layout");
    auto version = TRY_CTX(json_fields::string_field(doc, "imageLayoutVersion", "", true), "oci-layout");
    if (version != "1.0.0") return fail("oci-layout: imageLayoutVersion '" + version + "' is not 1.0.0");
    return {};
}

// The name an image gets: the one given, else its descriptor's annotation (containerd writes the
// full name in its own and only the tag in OCI's).
std::string name_of(const Descriptor& descriptor, const ImportOptions& options) {
    if (options.name) return *options.name;
    for (const char* key : {"io.containerd.image.name", "org.opencontainers.image.ref.name"}) {
        auto it = descriptor.annotations.find(key);
        if (it != descriptor.annotations.end()) return it->second;
    }
    return "";
}

ErrorOr<std::vector<ImportedImage>> import_layout(LayoutSource& source, ContentStore& content,
                                                  ImageStore& images, const ImportOptions& options) {
    TRY(check_layout_version(source));
    auto text = TRY(source.read_top("index.json"));
    auto index = TRY_CTX(parse_image_index(text), "index.json");
    if (options.name && index.manifests.size() != 1)
        return fail("index.json: lists " + std::to_string(index.manifests.size()) +
                    " images; a name can be given only to a layout of one");
    Walk walk{source, content, options.platform.value_or(host_platform())};
    std::vector<ImportedImage> imported;
    for (size_t i = 0; i < index.manifests.size(); ++i) {
        const auto& descriptor = index.manifests[i];
        auto manifest = TRY_CTX(import_descriptor(walk, descriptor, 0),
                                "index.json: manifests[" + std::to_string(i) + "]");
        std::string name = name_of(descriptor, options);
        std::vector<std::string> names;
        if (!name.empty()) names.push_back(name);
        for (auto& image : TRY(name_imported_image(images, manifest, names, options)))
            imported.push_back(std::move(image));
    }
    return imported;
}

}  // namespace

ErrorOr<std::vector<ImportedImage>> name_imported_image(ImageStore& images, const Digest& manifest,
                                                        const std::vector<std::string>& names,
                                                        const ImportOptions& options) {
    if (options.layers) TRY(options.layers->prepare_image(manifest));
    if (names.empty()) return std::vector{ImportedImage{"", manifest}};
    std::vector<ImportedImage> named;
    for (const auto& name : names) {
        auto normalized = TRY(normalize_reference(name));
        TRY(images.tag(normalized, manifest));
        named.push_back(ImportedImage{normalized, manifest});
    }
    return named;
}

ErrorOr<std::vector<ImportedImage>> import_oci_layout(ContentStore& content, ImageStore& images,
                                                      const std::string& directory,
                                                      const ImportOptions& options) {
    auto source = TRY(open_layout_directory(directory));
    return TRY_CTX(import_layout(*source, content, images, options), directory);
}

ErrorOr<std::vector<ImportedImage>> import_oci_archive(ContentStore& content, ImageStore& images,
                                                       const std::string& archive_path,
                                                       const ImportOptions& options) {
    auto source = TRY(open_layout_archive(archive_path));
    return TRY_CTX(import_layout(*source, content, images, options), archive_path);
}

}  // namespace hutch::images
