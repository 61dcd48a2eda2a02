// What `pull` takes: "[registry[:port]/]repository[:tag|@digest]", with docker's defaults, so that
// "busybox" names what `docker pull busybox` pulls (docker.io/library/busybox:latest).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "images/digest.h"

namespace hutch::images {

struct ImageReference {
    std::string registry;    // "docker.io", "127.0.0.1:5000", "[::1]:5000"
    std::string repository;  // "library/busybox"
    std::string tag;         // "latest" unless given; kept for display when a digest is given too
    std::optional<Digest> digest;

    // What the registry's manifests endpoint takes: the digest when there is one, else the tag.
    std::string manifest_reference() const { return digest ? digest->str() : tag; }
    // The canonical spelling: "docker.io/library/busybox:latest", "host/repo@sha256:...".
    std::string str() const;
};

// Parses a reference; a malformed one is refused with a one-line error that says what is wrong.
ErrorOr<ImageReference> parse_image_reference(std::string_view text);

// Its canonical spelling (ImageReference::str()): two spellings of one image are one key in
// images.json, "busybox" and "docker.io/library/busybox:latest" alike.
ErrorOr<std::string> normalize_reference(std::string_view text);

}  // namespace hutch::images
