// Platforms (oci_documents.h): the host's, in Go's GOOS/GOARCH names as image indexes use them,
// and the choice of one manifest from an index.
#include <sys/utsname.h>

#include "images/oci_documents.h"

namespace hutch::images {
namespace {

// arm64's only variant is v8, which indexes write or leave out: both spellings are one platform.
std::string normal_variant(const Platform& platform) {
    if (platform.architecture == "arm64" && platform.variant == "v8") return "";
    return platform.variant;
}

bool matches(const Platform& have, const Platform& want) {
    if (have.os != want.os || have.architecture != want.architecture) return false;
    return want.variant.empty() || normal_variant(have) == normal_variant(want);
}

}  // namespace

std::string Platform::str() const {
    std::string text = os + "/" + architecture;
    if (!variant.empty()) text += "/" + variant;
    return text;
}

std::string goarch_of_machine(std::string_view machine) {
    if (machine == "x86_64") return "amd64";
    if (machine == "aarch64" || machine == "arm64") return "arm64";
    if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") return "386";
    if (machine.starts_with("armv")) return "arm";
    return std::string(machine);  // ppc64le, s390x, riscv64: the same in both
}

Platform host_platform() {
    utsname name{};
    if (uname(&name) != 0) return Platform{"linux", "amd64", ""};  // uname cannot fail on Linux
    std::string_view machine = name.machine;
    Platform platform{"linux", goarch_of_machine(machine), ""};
    // 32-bit arm's variant is its version: "armv7l" is arm/v7.
    if (platform.architecture == "arm" && machine.size() >= 5)
        platform.variant = std::string("v") + machine[4];
    return platform;
}

ErrorOr<Platform> parse_platform(std::string_view text) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t slash = text.find('/', start);
        parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    bool empty_part = false;
    for (const auto& part : parts) empty_part = empty_part || part.empty();
    if (parts.size() < 2 || parts.size() > 3 || empty_part)
        return fail("platform '" + std::string(text) + "': expected os/arch[/variant]");
    return Platform{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
}

ErrorOr<Descriptor> select_platform(const ImageIndex& index, const Platform& want) {
    const Descriptor* without_platform = nullptr;
    std::string offered;
    for (const auto& descriptor : index.manifests) {
        if (!is_manifest_media_type(descriptor.media_type)) continue;
        if (!descriptor.platform) {
            if (!without_platform) without_platform = &descriptor;
            continue;
        }
        if (matches(*descriptor.platform, want)) return descriptor;
        offered += (offered.empty() ? "" : ", ") + descriptor.platform->str();
    }
    if (without_platform) return *without_platform;
    return fail("no manifest for " + want.str() + " in the index" +
                (offered.empty() ? std::string() : " (it has " + offered + ")"));
}

}  // namespace hutch::images
