#include "images_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "images/digest.h"
#include "images_layers.h"

extern char** environ;

namespace hutch::test {
namespace {

const char* const kRegistryBinary = "/usr/bin/docker-registry";

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

std::string sha256(const std::string& data) {
    auto digest = images::digest_of(data);
    REQUIRE(digest);
    return digest->str();
}

bool accepts_connections(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

}  // namespace

int free_local_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    close(fd);
    return ntohs(addr.sin_port);
}

LocalRegistry::LocalRegistry(Options options) : options_(std::move(options)) {
    INFO(
        "docker-registry and skopeo come with scripts/setup.sh (packages docker-registry, skopeo, "
        "apache2-utils)");
    REQUIRE(access(kRegistryBinary, X_OK) == 0);
    REQUIRE(shell("command -v skopeo").status == 0);
    std::string config =
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " + dir_.path() +
        "/data\n";
    if (options_.token) {
        config += "auth:\n  token:\n    realm: " + options_.token->realm +
                  "\n    service: " + options_.token->service + "\n    issuer: " + options_.token->issuer +
                  "\n    rootcertbundle: " + options_.token->certificate_file + "\n";
    } else if (!options_.user.empty()) {
        REQUIRE(shell("command -v htpasswd").status == 0);
        auto entry = run_command({"htpasswd", "-Bbn", options_.user, options_.password});
        REQUIRE(entry.status == 0);
        write_text(dir_.path() + "/htpasswd", entry.out);
        config += "auth:\n  htpasswd:\n    realm: hutch-test\n    path: " + dir_.path() + "/htpasswd\n";
    }
    port_ = free_local_port();
    config += "http:\n  addr: " + address() + "\n";
    write_text(dir_.path() + "/config.yml", config);
    start();
}

void LocalRegistry::restart() {
    stop();
    start();
}

void LocalRegistry::start() {
    // Its log goes to a file of the test's directory, shown when it does not start.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log = dir_.path() + "/registry.log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string config_path = dir_.path() + "/config.yml";
    char* argv[] = {const_cast<char*>(kRegistryBinary), const_cast<char*>("serve"), config_path.data(),
                    nullptr};
    int rc = posix_spawn(&pid_, kRegistryBinary, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);

    // A REQUIRE throws, and a constructor that throws gets no destructor: stop() first.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    bool died = false, ready = false;
    while (!died && !(ready = accepts_connections(port_)) && std::chrono::steady_clock::now() < deadline) {
        died = waitpid(pid_, nullptr, WNOHANG) == pid_;
        if (died) pid_ = -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ready) stop();
    INFO("registry log: " << read_text(log));
    REQUIRE(ready);
}

LocalRegistry::~LocalRegistry() { stop(); }

std::string LocalRegistry::blob_file(const std::string& digest) const {
    // docker-registry's filesystem driver: blobs/<algorithm>/<first two hex>/<hex>/data.
    std::string hex = digest.substr(digest.find(':') + 1);
    return dir_.path() + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

void LocalRegistry::stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) == -1 && errno == EINTR) {
    }
    pid_ = -1;
}

void LocalRegistry::push(const std::string& layout, const std::string& repository,
                         const std::string& tag) const {
    std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--quiet",
                                     // as written: else skopeo gzips the plain tar layer
                                     "--preserve-digests", "--dest-tls-verify=false",
                                     // an index with every image it lists (one image: the same)
                                     "--all"};
    if (!options_.user.empty()) argv.push_back("--dest-creds=" + options_.user + ":" + options_.password);
    argv.push_back("oci:" + layout + ":latest");
    argv.push_back("docker://" + address() + "/" + repository + ":" + tag);
    auto result = run_command(argv);
    INFO("skopeo: " << result.out << result.err);
    REQUIRE(result.status == 0);
}

TestImage::TestImage(const std::string& layer_file_content)
    : TestImage(make_layer({{.name = "etc", .type = AE_IFDIR, .mode = 0755},
                            {.name = "etc/hello.txt", .content = layer_file_content}}),
                nlohmann::json::object()) {}

TestImage::TestImage(std::string layer_bytes, const nlohmann::json& run_config)
    : TestImage(std::vector<std::string>{std::move(layer_bytes)}, run_config, "amd64") {}

TestImage::TestImage(const std::vector<std::string>& layer_blobs, const nlohmann::json& run_config,
                     const std::string& architecture, const std::vector<std::string>& diff_ids,
                     const std::string& layer_media_type) {
    namespace fs = std::filesystem;
    REQUIRE_FALSE(layer_blobs.empty());
    nlohmann::json layer_descriptors = nlohmann::json::array();
    for (const auto& blob : layer_blobs) {
        layer_digests.push_back(sha256(blob));
        layer_descriptors.push_back(
            {{"mediaType", layer_media_type}, {"digest", layer_digests.back()}, {"size", blob.size()}});
    }
    layer = layer_blobs.back();
    layer_digest = layer_digests.back();
    nlohmann::json config_json = {
        {"architecture", architecture},
        {"os", "linux"},
        {"config", run_config},
        {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids.empty() ? layer_digests : diff_ids}}}};
    config = config_json.dump();
    config_digest = sha256(config);
    nlohmann::json manifest_json = {{"schemaVersion", 2},
                                    {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                    {"config",
                                     {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                      {"digest", config_digest},
                                      {"size", config.size()}}},
                                    {"layers", layer_descriptors}};
    manifest = manifest_json.dump();
    manifest_digest = sha256(manifest);
    nlohmann::json index = {{"schemaVersion", 2},
                            {"manifests",
                             {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"digest", manifest_digest},
                               {"size", manifest.size()},
                               {"annotations", {{"org.opencontainers.image.ref.name", "latest"}}}}}}};
    fs::create_directories(dir.path() + "/blobs/sha256");
    for (const auto& blob : layer_blobs)
        write_text(dir.path() + "/blobs/sha256/" + sha256(blob).substr(7), blob);
    for (const auto* blob : {&config, &manifest})
        write_text(dir.path() + "/blobs/sha256/" + sha256(*blob).substr(7), *blob);
    write_text(dir.path() + "/index.json", index.dump());
    write_text(dir.path() + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

}  // namespace hutch::test
