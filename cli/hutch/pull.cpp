// hutch pull: the registry client (images/registry_client.h) fetches, the content store checks
// every blob's digest on the way in, and the layer store checks each layer's diffID. The image
// is named only once all of that has passed, so a name never points at a half-pulled image.
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cli/hutch/verbs.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_documents.h"
#include "images/registry_auth.h"
#include "images/registry_client.h"

namespace hutch::cli {
namespace {

using namespace hutch::images;

// What a pull works with, opened once.
struct Pull {
    ImageReference reference;
    RegistryClient client;
    ContentStore& content;
    bool verbose;  // stdout is a terminal: say what is happening, on stderr
};

void progress(const Pull& pull, const std::string& line) {
    if (pull.verbose) std::fprintf(stderr, "%s\n", line.c_str());
}

ErrorOr<void> store_document(Pull& pull, const FetchedManifest& fetched) {
    if (TRY(pull.content.has(fetched.digest))) return {};
    return pull.content.ingest(fetched.digest, fetched.bytes.size(), bytes_reader(fetched.bytes));
}

// A blob already stored was checked against its digest when it came in: it is not fetched again.
ErrorOr<void> fetch_blob(Pull& pull, const Descriptor& blob) {
    if (TRY(pull.content.has(blob.digest))) {
        progress(pull, "blob " + blob.digest.str() + " already stored");
        return {};
    }
    progress(pull, "fetching blob " + blob.digest.str() + " (" + std::to_string(blob.size) + " bytes)");
    return pull.client.fetch_blob(pull.reference.repository, blob.digest, blob.size, pull.content);
}

// The manifest the reference names, going through an index to the platform's manifest.
ErrorOr<FetchedManifest> fetch_image_manifest(Pull& pull, const Platform& platform) {
    auto fetched =
        TRY(pull.client.fetch_manifest(pull.reference.repository, pull.reference.manifest_reference()));
    if (!is_index_media_type(fetched.media_type)) return fetched;
    auto index = TRY_CTX(parse_image_index(fetched.bytes), "index " + fetched.digest.str());
    auto chosen = TRY_CTX(select_platform(index, platform), "index " + fetched.digest.str());
    TRY(store_document(pull, fetched));
    progress(pull, "platform " + platform.str() + ": manifest " + chosen.digest.str());
    return pull.client.fetch_manifest(pull.reference.repository, chosen.digest.str());
}

ErrorOr<Digest> pull_manifest(Pull& pull, const Platform& platform) {
    auto fetched = TRY(fetch_image_manifest(pull, platform));
    if (!is_manifest_media_type(fetched.media_type))
        return fail(fetched.digest.str() + ": media type '" + fetched.media_type +
                    "' is not an image manifest");
    auto manifest = TRY_CTX(parse_image_manifest(fetched.bytes), "manifest " + fetched.digest.str());
    for (const auto& layer : manifest.layers) TRY(check_layer_media_type(layer.media_type));
    TRY(fetch_blob(pull, manifest.config));
    for (const auto& layer : manifest.layers) TRY(fetch_blob(pull, layer));
    // Stored last: a stored manifest then always has its config and layers stored too.
    TRY(store_document(pull, fetched));
    return fetched.digest;
}

ErrorOr<Platform> wanted_platform(const PullOptions& options) {
    if (options.platform.empty()) return host_platform();
    return TRY_CTX(parse_platform(options.platform), "--platform");
}

// The one given, else the default one (where `hutch login` saves) when it is there.
ErrorOr<std::string> auth_file_of(const PullOptions& options) {
    if (!options.auth_file.empty()) return options.auth_file;
    std::string file = default_auth_file();
    if (access(file.c_str(), F_OK) == 0) return file;
    if (errno == ENOENT) return std::string();
    return fail_errno(file);
}

}  // namespace

ErrorOr<void> pull(const PullOptions& options, const std::string& image) {
    auto reference = TRY(parse_image_reference(image));
    auto platform = TRY(wanted_platform(options));
    auto content = TRY(ContentStore::open(options.storage_root));
    auto images = TRY(ImageStore::open(options.storage_root));
    RegistryOptions registry_options{.insecure_registries = {}, .auth_file = TRY(auth_file_of(options))};
    if (!options.tls_verify) registry_options.insecure_registries.push_back(reference.registry);
    auto client = TRY(RegistryClient::create(reference.registry, registry_options));
    Pull state{reference, std::move(client), content, isatty(STDOUT_FILENO) == 1};

    auto manifest = TRY(pull_manifest(state, platform));
    auto layers = TRY(LayerStore::open(content));
    TRY_CTX(layers.prepare_image(manifest), reference.str());
    TRY(images.tag(reference.str(), manifest));
    if (options.print_digest) std::printf("%s\n", manifest.str().c_str());
    return {};
}

}  // namespace hutch::cli
