// Debian's docker-registry on 127.0.0.1, for the registry client's tests: a free port, storage in
// a directory of the test's own, optional htpasswd basic auth or token auth (tokens from a
// TokenServer, token_server.h); the destructor kills and reaps it,
// so no registry outlives a test, passed or failed. And a one-layer OCI image layout to push into
// it with skopeo.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"
#include "token_server.h"

namespace hutch::test {

class LocalRegistry {
public:
    struct Options {
        // When set, push() sends these credentials; without token, the registry wants them
        // (htpasswd -B).
        std::string user = {};
        std::string password = {};
        // When set, the registry wants a Bearer token from that server instead.
        std::optional<TokenServer::RegistryAuth> token = {};
    };
    // Starts the registry and waits until it accepts connections; a REQUIRE fails otherwise.
    explicit LocalRegistry(Options options);
    LocalRegistry() : LocalRegistry(Options{}) {}
    ~LocalRegistry();
    LocalRegistry(const LocalRegistry&) = delete;
    LocalRegistry& operator=(const LocalRegistry&) = delete;

    // "127.0.0.1:PORT"
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    pid_t pid() const { return pid_; }
    // Kills the registry now (idempotent).
    void stop();
    // Starts it again on the same port with the same storage: what it held is served again.
    void restart();
    // Where it stores the blob with this digest ("sha256:<hex>"), to corrupt it.
    std::string blob_file(const std::string& digest) const;
    // Pushes the OCI layout's "latest" with skopeo to REPOSITORY:TAG; REQUIREs success.
    void push(const std::string& layout, const std::string& repository,
              const std::string& tag = "latest") const;

private:
    void start();  // spawns it and waits until it accepts connections
    TempDir dir_{"hutch-registry"};
    Options options_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// A one-layer image written as an OCI layout (oci-layout, index.json, blobs/) in a directory of
// its own, with the digests and sizes of its parts.
struct TestImage {
    explicit TestImage(const std::string& layer_file_content);
    // An image of one layer (a tar's bytes) whose config's "config" object is run_config.
    TestImage(std::string layer_bytes, const nlohmann::json& run_config);
    // Layers bottom first; the config says architecture (the index entry of a multi-platform
    // image says it too). Every layer has layer_media_type; the config's diffIDs are diff_ids,
    // or, when empty, the layers' digests (right for plain tars).
    TestImage(const std::vector<std::string>& layer_blobs, const nlohmann::json& run_config,
              const std::string& architecture, const std::vector<std::string>& diff_ids = {},
              const std::string& layer_media_type = "application/vnd.oci.image.layer.v1.tar");
    TempDir dir{"hutch-oci-layout"};
    std::string layer, config, manifest;  // the blobs' bytes; layer is the top one
    std::string layer_digest, config_digest, manifest_digest;
    std::vector<std::string> layer_digests;  // bottom first
};

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int free_local_port();

}  // namespace hutch::test
