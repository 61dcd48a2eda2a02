// Image references ("busybox", "localhost/app:1.0", "quay.io/org/x@sha256:...") normalised as
// docker and podman do (distribution/reference's ParseNormalizedNamed, then the "latest" tag):
// a name without a registry is docker.io's, a single docker.io path is under "library/", and a
// name with neither tag nor digest gets ":latest". So "busybox" is
// "docker.io/library/busybox:latest", and two spellings of one image are one key in images.json.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::images {

// The normalised reference, or a one-line error saying which part is malformed.
ErrorOr<std::string> normalize_reference(std::string_view reference);

}  // namespace hutch::images
