// hutch images: the names in images.json with what podman's `images` shows of them. The size is
// what the image takes in the content store (manifest, config and compressed layers), the figure
// a pull downloads; unpacked layers are shared between images and not counted here.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "cli/hutch/image_gc.h"
#include "cli/hutch/verbs.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"
#include "images/stored_documents.h"

namespace hutch::cli {
namespace {

using namespace hutch::images;

struct ImageRow {
    std::string name, repository, tag;
    Digest manifest;
    uint64_t size = 0;
};

ErrorOr<uint64_t> stored_size(const ContentStore& content, const Digest& manifest_digest) {
    auto text = TRY(read_document(content, manifest_digest));
    auto manifest = TRY(parse_image_manifest(text));
    uint64_t size = text.size() + manifest.config.size;
    for (const auto& layer : manifest.layers) size += layer.size;
    return size;
}

ErrorOr<ImageRow> row_of(const ContentStore& content, const std::string& name, const Digest& manifest) {
    auto reference = TRY(parse_image_reference(name));
    ImageRow row{name, reference.registry + "/" + reference.repository,
                 reference.digest ? "<none>" : reference.tag, manifest, 0};
    row.size = TRY_CTX(stored_size(content, manifest), name);
    return row;
}

void print_table(const std::vector<ImageRow>& rows) {
    std::printf("%-40s %-16s %-14s %s\n", "REPOSITORY", "TAG", "DIGEST", "SIZE");
    for (const auto& row : rows)
        std::printf("%-40s %-16s %-14s %s\n", row.repository.c_str(), row.tag.c_str(),
                    row.manifest.hex.substr(0, 12).c_str(), human_size(row.size).c_str());
}

void print_json(const std::vector<ImageRow>& rows) {
    auto array = nlohmann::ordered_json::array();
    for (const auto& row : rows)
        array.push_back({{"name", row.name},
                         {"repository", row.repository},
                         {"tag", row.tag},
                         {"digest", row.manifest.str()},
                         {"size", row.size}});
    std::printf("%s\n", json_text(array).c_str());
}

}  // namespace

ErrorOr<void> list_images(const std::string& storage_root, const std::string& format) {
    if (format != "table" && format != "json") return fail("--format: expected table or json, got " + format);
    auto content = TRY(ContentStore::open(storage_root));
    auto images = TRY(ImageStore::open(storage_root));
    std::vector<ImageRow> rows;
    for (const auto& [name, manifest] : TRY(images.list()))
        rows.push_back(TRY(row_of(content, name, manifest)));
    if (format == "json")
        print_json(rows);
    else
        print_table(rows);
    return {};
}

}  // namespace hutch::cli
