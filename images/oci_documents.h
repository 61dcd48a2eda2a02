// The JSON documents of an OCI image (image-spec v1.1) and their Docker schema 2 twins: the image
// index (Docker: manifest list), the image manifest, the descriptors that link them, and the
// image config. Parsed from untrusted text, never throwing: anything malformed (not JSON, a wrong
// type, a negative or huge size, a bad digest, an unknown media type) is refused with one line
// that names the field ("layers[1].digest: expected a string").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images {

namespace media_types {
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
}  // namespace media_types

// The largest index, manifest or config read (containerd's limit too): these are read whole into
// memory, and a hostile source could otherwise name a blob of any size.
inline constexpr uint64_t kMaxDocumentSize = 4 * 1024 * 1024;

struct Platform {
    std::string os;
    std::string architecture;
    std::string variant;  // empty when none

    std::string str() const;  // "os/arch[/variant]"
    bool operator==(const Platform&) const = default;
};

struct Descriptor {
    std::string media_type;
    Digest digest;
    uint64_t size = 0;
    std::optional<Platform> platform;
    std::map<std::string, std::string> annotations;
};

struct ImageIndex {
    std::string media_type;
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

struct ImageManifest {
    std::string media_type;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

// The part of the config that says how to run the image (the OCI config's "config" object).
struct RunConfig {
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::vector<std::string> env;
    std::string working_dir;
    std::string user;
    std::string stop_signal;
    std::vector<std::string> volumes;  // the keys of "Volumes"
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;  // the keys of "ExposedPorts" ("80/tcp")
};

struct ImageConfig {
    Platform platform;  // architecture, os, variant
    RunConfig config;
    std::vector<Digest> diff_ids;  // rootfs.diff_ids, bottom layer first
};

// True for the media types of an index (OCI or Docker) and of a manifest (OCI or Docker).
bool is_index_media_type(std::string_view media_type);
bool is_manifest_media_type(std::string_view media_type);

// A layer media type this store unpacks (OCI tar, tar+gzip, tar+zstd, Docker's tar.gzip);
// anything else is refused with its name.
ErrorOr<void> check_layer_media_type(std::string_view media_type);

ErrorOr<ImageIndex> parse_image_index(std::string_view text);
ErrorOr<ImageManifest> parse_image_manifest(std::string_view text);
ErrorOr<ImageConfig> parse_image_config(std::string_view text);

// The GOARCH name of a uname machine ("x86_64" -> "amd64", "aarch64" -> "arm64"); others as given.
std::string goarch_of_machine(std::string_view machine);
// This host's platform: linux, the GOARCH of uname's machine (variant "v7" for 32-bit arm).
Platform host_platform();
// "os/arch[/variant]" ("linux/arm64/v8").
ErrorOr<Platform> parse_platform(std::string_view text);
// The descriptor in index that is a manifest for want. A variant is compared only when want has
// one; an entry without a platform is taken only when no entry names a matching one.
ErrorOr<Descriptor> select_platform(const ImageIndex& index, const Platform& want);

}  // namespace hutch::images
