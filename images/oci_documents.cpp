#include "images/oci_documents.h"

#include "base/json_reader.h"
#include "images/json_fields.h"

namespace hutch::images {
namespace {

using namespace json_fields;

std::string element(const std::string& where, std::string_view key, size_t i) {
    return hutch::json::index_path(path(where, key), i);
}

ErrorOr<std::optional<Platform>> parse_descriptor_platform(const json& obj, const std::string& where) {
    const json* value = TRY(member(obj, "platform", where, false));
    if (!value) return std::nullopt;
    std::string at = path(where, "platform");
    TRY(hutch::json::expect_object(*value, at));
    Platform platform;
    platform.architecture = TRY(string_field(*value, "architecture", at, true));
    platform.os = TRY(string_field(*value, "os", at, true));
    platform.variant = TRY(string_field(*value, "variant", at, false));
    return platform;
}

ErrorOr<Descriptor> parse_descriptor(const json& obj, const std::string& where) {
    TRY(hutch::json::expect_object(obj, where));
    Descriptor descriptor;
    descriptor.media_type = TRY(string_field(obj, "mediaType", where, true));
    descriptor.digest = TRY(digest_field(obj, "digest", where));
    descriptor.size = TRY(unsigned_field(obj, "size", where, true));
    descriptor.platform = TRY(parse_descriptor_platform(obj, where));
    descriptor.annotations = TRY(string_map(obj, "annotations", where));
    return descriptor;
}

ErrorOr<std::vector<Descriptor>> parse_descriptors(const json& obj, std::string_view key) {
    const json* list = TRY(member(obj, key, "", true));
    TRY(hutch::json::expect_array(*list, std::string(key)));
    std::vector<Descriptor> descriptors;
    for (size_t i = 0; i < list->size(); ++i)
        descriptors.push_back(TRY(parse_descriptor((*list)[i], element("", key, i))));
    return descriptors;
}

// schemaVersion 2 (both OCI and Docker schema 2), and a mediaType, when given, that accepted()
// takes. Returns the media type, or fallback when the document leaves it out (OCI allows that).
template <typename Accepted>
ErrorOr<std::string> check_header(const json& doc, Accepted accepted, std::string_view fallback) {
    auto version = TRY(unsigned_field(doc, "schemaVersion", "", true));
    if (version != 2) return fail("schemaVersion: " + std::to_string(version) + " is not 2");
    auto media_type = TRY(string_field(doc, "mediaType", "", false));
    if (media_type.empty()) return std::string(fallback);
    if (!accepted(media_type)) return fail("mediaType: '" + media_type + "' is not expected here");
    return media_type;
}

ErrorOr<RunConfig> parse_run_config(const json& doc) {
    RunConfig run;
    const json* config = TRY(member(doc, "config", "", false));
    if (!config) return run;
    TRY(hutch::json::expect_object(*config, "config"));
    run.entrypoint = TRY(string_array(*config, "Entrypoint", "config"));
    run.cmd = TRY(string_array(*config, "Cmd", "config"));
    run.env = TRY(string_array(*config, "Env", "config"));
    run.working_dir = TRY(string_field(*config, "WorkingDir", "config", false));
    run.user = TRY(string_field(*config, "User", "config", false));
    run.stop_signal = TRY(string_field(*config, "StopSignal", "config", false));
    run.volumes = TRY(object_keys(*config, "Volumes", "config"));
    run.labels = TRY(string_map(*config, "Labels", "config"));
    run.exposed_ports = TRY(object_keys(*config, "ExposedPorts", "config"));
    return run;
}

ErrorOr<std::vector<Digest>> parse_rootfs(const json& doc) {
    const json* rootfs = TRY(member(doc, "rootfs", "", true));
    TRY(hutch::json::expect_object(*rootfs, "rootfs"));
    auto type = TRY(string_field(*rootfs, "type", "rootfs", true));
    if (type != "layers") return fail("rootfs.type: '" + type + "' is not \"layers\"");
    const json* ids = TRY(member(*rootfs, "diff_ids", "rootfs", true));
    TRY(hutch::json::expect_array(*ids, "rootfs.diff_ids"));
    std::vector<Digest> diff_ids;
    for (size_t i = 0; i < ids->size(); ++i) {
        std::string at = element("rootfs", "diff_ids", i);
        auto text = TRY(hutch::json::as_string((*ids)[i], at));
        diff_ids.push_back(TRY_CTX(parse_digest(text), at));
    }
    return diff_ids;
}

}  // namespace

bool is_index_media_type(std::string_view media_type) {
    return media_type == media_types::oci_index || media_type == media_types::docker_manifest_list;
}

bool is_manifest_media_type(std::string_view media_type) {
    return media_type == media_types::oci_manifest || media_type == media_types::docker_manifest;
}

ErrorOr<void> check_layer_media_type(std::string_view media_type) {
    static constexpr std::string_view allowed[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    };
    for (auto known : allowed)
        if (media_type == known) return {};
    return fail("layer media type '" + std::string(media_type) + "' is not supported");
}

ErrorOr<ImageIndex> parse_image_index(std::string_view text) {
    auto doc = TRY(parse_object(text));
    ImageIndex index;
    index.media_type = TRY(check_header(doc, is_index_media_type, media_types::oci_index));
    index.manifests = TRY(parse_descriptors(doc, "manifests"));
    index.annotations = TRY(string_map(doc, "annotations", ""));
    return index;
}

ErrorOr<ImageManifest> parse_image_manifest(std::string_view text) {
    auto doc = TRY(parse_object(text));
    ImageManifest manifest;
    manifest.media_type = TRY(check_header(doc, is_manifest_media_type, media_types::oci_manifest));
    const json* config = TRY(member(doc, "config", "", true));
    manifest.config = TRY(parse_descriptor(*config, "config"));
    manifest.layers = TRY(parse_descriptors(doc, "layers"));
    for (size_t i = 0; i < manifest.layers.size(); ++i)
        TRY_CTX(check_layer_media_type(manifest.layers[i].media_type),
                element("", "layers", i) + ".mediaType");
    manifest.annotations = TRY(string_map(doc, "annotations", ""));
    return manifest;
}

ErrorOr<ImageConfig> parse_image_config(std::string_view text) {
    auto doc = TRY(parse_object(text));
    ImageConfig config;
    config.platform.architecture = TRY(string_field(doc, "architecture", "", true));
    config.platform.os = TRY(string_field(doc, "os", "", true));
    config.platform.variant = TRY(string_field(doc, "variant", "", false));
    config.config = TRY(parse_run_config(doc));
    config.diff_ids = TRY(parse_rootfs(doc));
    return config;
}

}  // namespace hutch::images
