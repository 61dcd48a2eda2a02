// The verbs of the `hutch` command (cli/hutch.cpp parses the command line and calls these). Each
// works on a storage root (the content store, images.json and the layer store, all under one
// directory) and prints what a person asked for on stdout; failures come back as one Error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::cli {

// The default storage root, as /var/lib/containers is podman's.
inline constexpr const char* kDefaultStorageRoot = "/var/lib/hutch";

struct PullOptions {
    std::string storage_root = kDefaultStorageRoot;
    std::string platform;      // "os/arch[/variant]"; "" for the host's
    std::string auth_file;     // "" for anonymous access only
    bool tls_verify = true;    // false: reach the registry over plain HTTP
    bool print_digest = true;  // false when pulled for `run`, whose output is the container's
};

// hutch pull IMAGE: fetches the image's manifest, config and layers (skipping blobs already
// stored), checks every layer's diffID by unpacking it into the layer store, then names the image.
// Prints the manifest digest.
ErrorOr<void> pull(const PullOptions& options, const std::string& image);

// hutch images: every named image, as a table or (format "json") a JSON array.
ErrorOr<void> list_images(const std::string& storage_root, const std::string& format);

// hutch load -i PATH [NAME]: imports an OCI layout directory, an OCI archive or a docker archive.
ErrorOr<void> load(const std::string& storage_root, const std::string& path,
                   const std::optional<std::string>& name);

struct SaveOptions {
    std::string output;                     // -o FILE
    std::string format = "docker-archive";  // or "oci-archive", as podman's --format
    std::vector<std::string> images;        // names or manifest digests
};

// hutch save -o FILE [--format F] IMAGE...: writes the images to FILE, atomically.
ErrorOr<void> save(const std::string& storage_root, const SaveOptions& options);

struct RootfsImportOptions {
    std::string source;                // a root filesystem directory, or a tar (plain or compressed)
    std::optional<std::string> name;   // NAME[:TAG]; unnamed when not given
    std::vector<std::string> changes;  // --change "CMD [...]", as docker and podman import take
};

// hutch import SOURCE [NAME]: an image of one layer, made from a directory or a tarball. Prints
// the manifest digest.
ErrorOr<void> import_rootfs(const std::string& storage_root, const RootfsImportOptions& options);

struct LoginOptions {
    std::string auth_file;  // "" for images::default_auth_file()
    std::string registry;   // "host[:port]" (a URL's scheme and path are dropped)
    std::string username;   // asked on a terminal when not given
    std::optional<std::string> password;
    bool password_stdin = false;  // the password is stdin's text, less a final newline
    bool tls_verify = true;
};

// hutch login: checks the credentials against the registry (GET /v2/ with them), then saves them
// in the auth file, where pull finds them.
ErrorOr<void> login(const LoginOptions& options);

// hutch logout REGISTRY | --all: removes the registry's credentials (or every registry's).
ErrorOr<void> logout(const std::string& auth_file, const std::string& registry, bool all);

// hutch rmi [-f] NAME...: removes the names, then the blobs and layers only those images used.
// An image a container uses (any status) is refused, unless force: then only the name goes, and
// its blobs and layers stay while the container exists.
ErrorOr<void> remove_images(const std::string& storage_root, const std::vector<std::string>& names,
                            bool force);

// hutch image prune [-a]: removes dangling images (stored, but no name points at them) and every
// blob and layer nothing needs; with all, also every image no container uses. Prints what went
// and the space reclaimed.
ErrorOr<void> prune_images(const std::string& storage_root, bool all);

}  // namespace hutch::cli
