// A client of the OCI distribution API v2 (what docker-registry, Docker Hub, ghcr.io... serve):
// fetches manifests by tag or digest, and blobs straight into the content store, handling
// anonymous, Basic and Bearer (token server) authentication. Manifests come back as raw bytes
// and a media type: parsing them is images/'s document parsers' business.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/content_store.h"
#include "images/digest.h"
#include "images/registry_auth.h"
#include "images/www_authenticate.h"

namespace hutch::images {

// What a manifest request asks for: OCI index and manifest, Docker manifest list and schema 2.
extern const char* const kManifestMediaTypes[4];

struct RegistryOptions {
    // Registries ("host[:port]") to reach over plain HTTP. Loopback ones (localhost,
    // 127.0.0.0/8, ::1) always are; every other registry is HTTPS, checked against the system CAs.
    std::vector<std::string> insecure_registries;
    // A docker config.json / containers auth.json to take credentials from ("": anonymous only).
    std::string auth_file;
    // Credentials to use instead of the auth file's (`hutch login` checks them before saving).
    std::optional<Credentials> credentials = {};
};

struct FetchedManifest {
    std::string bytes;
    std::string media_type;  // Content-Type without parameters ("" when the server sent none)
    Digest digest;           // of bytes, checked against what was asked and what the server said
};

// True when registry (host[:port], IPv6 in brackets) is reached over plain HTTP.
bool registry_uses_plain_http(const std::string& registry,
                              const std::vector<std::string>& insecure_registries);

class RegistryClient {
public:
    // registry as in an image reference: "docker.io", "127.0.0.1:5000".
    static ErrorOr<RegistryClient> create(const std::string& registry, const RegistryOptions& options = {});

    // GET /v2/<repository>/manifests/<reference>; reference is a tag or a digest. By digest, the
    // bytes must hash to it; a Docker-Content-Digest answer header must match the bytes too.
    ErrorOr<FetchedManifest> fetch_manifest(const std::string& repository, const std::string& reference);
    // GET /v2/<repository>/blobs/<digest>, streamed into store.ingest(): stored only when it has
    // exactly size bytes hashing to digest; after any failure nothing of it is left in the store.
    // progress, when given, hears how many bytes have come so far; sink, when given, gets the
    // bytes as they come too (ContentStore::ingest). A blob stored already is not fetched, and
    // then the sink gets nothing and is not finished.
    ErrorOr<void> fetch_blob(const std::string& repository, const Digest& digest, uint64_t size,
                             ContentStore& store, const std::function<void(uint64_t)>& progress = nullptr,
                             BlobSink* sink = nullptr);

    // GET /v2/, answering a challenge with the credentials: succeeds when the registry accepts
    // them (or asks for none), as `podman login` checks them.
    ErrorOr<void> check_access();

    const std::string& registry() const { return registry_; }

private:
    RegistryClient(std::string registry, std::string base_url, bool plain_http,
                   std::optional<Credentials> credentials, std::string auth_file)
        : registry_(std::move(registry)),
          base_url_(std::move(base_url)),
          plain_http_(plain_http),
          credentials_(std::move(credentials)),
          auth_file_(std::move(auth_file)) {}
    // Answers a 401's challenges: sets authorization_ (Basic, or a Bearer token fetched from
    // the realm), or fails saying why the registry cannot be reached.
    ErrorOr<void> authorize(const std::string& www_authenticate);
    ErrorOr<std::string> fetch_token(const AuthChallenge& challenge);
    std::vector<std::string> request_headers(std::vector<std::string> extra) const;

    std::string registry_;
    std::string base_url_;  // "https://host[:port]"
    bool plain_http_;
    std::optional<Credentials> credentials_;
    std::string auth_file_;
    std::vector<std::string> insecure_;  // where a token realm may be plain http://
    std::string authorization_;          // the Authorization header's value in use; "" while anonymous
};

}  // namespace hutch::images
