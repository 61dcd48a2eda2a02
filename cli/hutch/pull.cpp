// hutch pull: the registry client (images/registry_client.h) fetches, the content store checks
// every blob's digest on the way in, and the layer store checks each layer's diffID. The image
// is named only once all of that has passed, so a name never points at a half-pulled image.
//
// The config comes first (it is small): its diffIDs name the layers. Then each layer that is not
// unpacked yet is unpacked from its bytes as they stream in, on a thread beside the download
// (LayerStore::unpack_streamed), so that a large layer costs about the larger of the two instead
// of their sum. A layer whose blob was stored already is unpacked from the store, as `hutch run`
// would.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "cli/hutch/pull_progress.h"
#include "cli/hutch/verbs.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"
#include "images/layer_store.h"
#include "images/oci_documents.h"
#include "images/registry_auth.h"
#include "images/registry_client.h"
#include "images/stored_documents.h"

namespace hutch::cli {
namespace {

using namespace hutch::images;

// At most this many blobs come at once, as docker's max-concurrent-downloads (3) has it.
constexpr size_t kFetchers = 3;

// What a pull works with, opened once.
struct Pull {
    ImageReference reference;
    std::string storage_root;
    RegistryClient client;
    ContentStore& content;
    LayerStore& layers;  // over content: its lease holds the chain IDs looked up
    PullProgress progress;
};

ErrorOr<void> store_document(Pull& pull, const FetchedManifest& fetched) {
    if (TRY(pull.content.has(fetched.digest))) return {};
    return pull.content.ingest(fetched.digest, fetched.bytes.size(), bytes_reader(fetched.bytes));
}

// A layer to unpack as its blob comes: which one it is in the config's rootfs.
struct LayerTarget {
    Digest diff_id;
    Digest chain_id;
};

struct Wanted {
    Descriptor blob;
    size_t line;                             // its progress line
    std::optional<LayerTarget> unpack = {};  // set for a layer not unpacked yet
};

// The blobs not stored yet (one that is was checked against its digest when it came in), each
// once, with a progress line for every blob.
ErrorOr<std::vector<Wanted>> blobs_to_fetch(Pull& pull, const std::vector<Descriptor>& blobs) {
    std::vector<Wanted> wanted;
    std::set<std::string> seen;
    for (const auto& blob : blobs) {
        if (!seen.insert(blob.digest.str()).second) continue;
        size_t line = pull.progress.add(blob.digest.hex.substr(0, 12), blob.size);
        if (TRY(pull.content.has(blob.digest)))
            pull.progress.finished(line, "already stored");
        else
            wanted.push_back({blob, line});
    }
    return wanted;
}

// A content store handle, and the layer store beside it, for one fetching thread.
struct Stores {
    ContentStore content;
    std::optional<LayerStore> layers;  // over content, opened once content is where it stays
};

// Fetches one blob into store; a layer to unpack is unpacked from the bytes as they come, and
// committed with the blob.
ErrorOr<void> fetch_one(Pull& pull, const Wanted& w, RegistryClient& client, Stores& stores) {
    std::unique_ptr<BlobSink> unpacker;
    if (w.unpack)
        unpacker = TRY(stores.layers->unpack_streamed(w.blob, w.unpack->diff_id, w.unpack->chain_id));
    return client.fetch_blob(
        pull.reference.repository, w.blob.digest, w.blob.size, stores.content,
        [&](uint64_t n) { pull.progress.received(w.line, n); }, unpacker.get());
}

// The layer blobs to fetch (blobs_to_fetch), each marked to be unpacked as it comes unless its layer
// is unpacked already. The config is stored: its diffIDs name the layers.
ErrorOr<std::vector<Wanted>> layers_to_fetch(Pull& pull, const ImageManifest& manifest) {
    auto config = TRY(load_config(pull.content, manifest));
    auto chain = TRY(chain_ids(config.diff_ids));
    auto wanted = TRY(blobs_to_fetch(pull, manifest.layers));
    for (auto& w : wanted) {
        // A blob listed twice is fetched once: unpacked as it comes for its lowest place, and
        // from the store for any other (LayerStore::prepare_image).
        size_t i = 0;
        while (manifest.layers[i].digest != w.blob.digest) ++i;
        if (!TRY(pull.layers.has_layer(chain[i]))) w.unpack = LayerTarget{config.diff_ids[i], chain[i]};
    }
    return wanted;
}

// Fetches the wanted blobs, kFetchers at a time: each thread has a copy of the registry client
// (with the token the manifest's fetch got; each request makes its own curl handle) and store
// handles of its own (whose flock then guards against the other threads too). The first failure is
// returned, once every thread has stopped; the blobs (and layers) fetched before it stay stored.
ErrorOr<void> fetch_blobs(Pull& pull, const std::vector<Wanted>& wanted) {
    std::atomic<size_t> next{0};
    std::mutex failed_mutex;
    std::optional<Error> failed;
    auto fetch_some = [&](RegistryClient& client, Stores& stores) {
        for (size_t i; (i = next++) < wanted.size();) {
            const Wanted& w = wanted[i];
            auto fetched = fetch_one(pull, w, client, stores);
            pull.progress.finished(w.line, fetched ? "done" : "failed");
            if (fetched) continue;
            std::lock_guard lock(failed_mutex);
            if (!failed) failed = fetched.error();
            next = wanted.size();  // no thread takes another blob
        }
    };
    size_t helpers = std::min(kFetchers, wanted.size()) - (wanted.empty() ? 0 : 1);
    std::vector<RegistryClient> clients;
    // Each thread's LayerStore points at its ContentStore: kept where they were made.
    std::vector<std::unique_ptr<Stores>> stores;
    for (size_t i = 0; i < helpers + 1; ++i) {
        if (i < helpers) clients.push_back(pull.client);
        stores.push_back(std::make_unique<Stores>(TRY(ContentStore::open(pull.storage_root)), std::nullopt));
        stores.back()->layers = TRY(LayerStore::open(stores.back()->content));
    }
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < helpers; ++i) {
        try {
            threads.emplace_back(fetch_some, std::ref(clients[i]), std::ref(*stores[i]));
        } catch (const std::system_error&) {
            break;  // fewer threads, not a failed pull: this one fetches what they leave
        }
    }
    fetch_some(pull.client, *stores[helpers]);
    threads.clear();  // joins them
    if (failed) return std::unexpected(*failed);
    return {};
}

// The manifest the reference names, going through an index to the platform's manifest.
ErrorOr<FetchedManifest> fetch_image_manifest(Pull& pull, const Platform& platform) {
    auto fetched =
        TRY(pull.client.fetch_manifest(pull.reference.repository, pull.reference.manifest_reference()));
    if (!is_index_media_type(fetched.media_type)) return fetched;
    auto index = TRY_CTX(parse_image_index(fetched.bytes), "index " + fetched.digest.str());
    auto chosen = TRY_CTX(select_platform(index, platform), "index " + fetched.digest.str());
    TRY(store_document(pull, fetched));
    return pull.client.fetch_manifest(pull.reference.repository, chosen.digest.str());
}

ErrorOr<Digest> pull_manifest(Pull& pull, const Platform& platform) {
    auto fetched = TRY(fetch_image_manifest(pull, platform));
    if (!is_manifest_media_type(fetched.media_type))
        return fail(fetched.digest.str() + ": media type '" + fetched.media_type +
                    "' is not an image manifest");
    auto manifest = TRY_CTX(parse_image_manifest(fetched.bytes), "manifest " + fetched.digest.str());
    for (const auto& layer : manifest.layers) TRY(check_layer_media_type(layer.media_type));
    TRY(fetch_blobs(pull, TRY(blobs_to_fetch(pull, {manifest.config}))));
    auto layers = TRY(layers_to_fetch(pull, manifest));
    TRY(fetch_blobs(pull, layers));
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
    // Progress on a terminal only, and only when the digest is what the command prints (not
    // when `run` pulls: its output is the container's).
    bool shown = options.print_digest && isatty(STDERR_FILENO) == 1;
    auto layers = TRY(LayerStore::open(content));
    Pull state{reference, options.storage_root, std::move(client), content, layers, PullProgress(shown)};

    auto manifest = TRY(pull_manifest(state, platform));
    // Unpacks what the pull did not (layers whose blobs were stored already), checks the rest.
    TRY_CTX(layers.prepare_image(manifest), reference.str());
    TRY(images.tag(reference.str(), manifest));
    if (options.print_digest) std::printf("%s\n", manifest.str().c_str());
    return {};
}

}  // namespace hutch::cli
