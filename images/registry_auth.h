// Credentials for registries, and the pieces of the registry auth dance that need no network:
// reading a docker-style config.json / containers auth.json, the Basic header, the token from a
// token server's answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::images {

struct Credentials {
    std::string username;
    std::string password;
};

// The credentials for registry ("host[:port]", "docker.io") in an auth file's JSON text:
// {"auths": {"host[:port]": {"auth": base64("user:pass")}}} (or "username" and "password"
// fields). Keys may be written as URLs ("https://index.docker.io/v1/"), as docker writes them.
// None when the file names no such registry; an error when the entry for it is malformed.
ErrorOr<std::optional<Credentials>> credentials_from_auth_json(std::string_view json_text,
                                                               const std::string& registry);
// The same, from a file; the file is the caller's choice, so a missing one is an error.
ErrorOr<std::optional<Credentials>> load_credentials(const std::string& auth_file,
                                                     const std::string& registry);

// The auth file used when none is named, as podman's: $REGISTRY_AUTH_FILE, else
// /run/containers/0/auth.json for root ($XDG_RUNTIME_DIR/containers/auth.json for others).
// `hutch login` writes it and `hutch pull` reads it.
std::string default_auth_file();

// The registry an auths key names: "https://index.docker.io/v1/" -> "index.docker.io"; what
// `hutch login` takes too, so that "https://host:5000/" is "host:5000".
std::string registry_of_auth_key(std::string_view key);

// The auth file's text (empty: no file yet) with registry's entry set to credentials, written
// as podman writes it ({"auths": {"host:port": {"auth": base64("user:pass")}}}); every other
// entry and key is kept.
ErrorOr<std::string> auth_json_with(std::string_view json_text, const std::string& registry,
                                    const Credentials& credentials);
// The text without any entry that names registry; an error when there is none.
ErrorOr<std::string> auth_json_without(std::string_view json_text, const std::string& registry);

// The same on a file: written whole (a temporary file renamed over it), mode 0600, its directory
// made (0700) when missing. Removing from a file that is not there is an error.
ErrorOr<void> save_credentials(const std::string& auth_file, const std::string& registry,
                               const Credentials& credentials);
ErrorOr<void> remove_credentials(const std::string& auth_file, const std::string& registry);

// "Basic base64(user:pass)", the value of an Authorization header.
std::string basic_authorization(const Credentials& credentials);

// The token in a token server's JSON answer: "token", else "access_token" (OAuth2's name).
ErrorOr<std::string> token_from_json(std::string_view json_text);

// Standard base64 (with padding), both ways; decoding refuses anything that is not base64.
std::string base64_encode(std::string_view data);
ErrorOr<std::string> base64_decode(std::string_view text);

}  // namespace hutch::images
