#include "images/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/file.h"
#include "base/json.h"
#include "images/json_fields.h"
#include "images/store_lock.h"

namespace hutch::images {
namespace {

constexpr const char* kImagesFile = "images.json";

}  // namespace

ErrorOr<ImageStore> ImageStore::open(const std::string& root) {
    if (mkdir(root.c_str(), 0700) == -1 && errno != EEXIST) return fail_errno("mkdir " + root);
    int raw = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw == -1) return fail_errno("open " + root);
    UniqueFd root_fd(raw);
    auto lock = TRY(open_store_lock(root_fd.get(), root));
    return ImageStore(root, std::move(root_fd), std::move(lock));
}

ErrorOr<std::map<std::string, Digest>> ImageStore::load() const {
    return read_image_names(root_fd_.get(), root_);
}

ErrorOr<std::map<std::string, Digest>> read_image_names(int root_fd, const std::string& root) {
    std::string shown = root + "/" + kImagesFile;
    std::map<std::string, Digest> images;
    int raw = openat(root_fd, kImagesFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (raw == -1) {
        if (errno == ENOENT) return images;
        return fail_errno("open " + shown);
    }
    UniqueFd fd(raw);
    auto text = TRY_CTX(read_all(fd.get()), shown);
    auto doc = TRY_CTX(json_fields::parse_object(text), shown);
    auto names = TRY_CTX(json_fields::string_map(doc, "images", ""), shown);
    for (const auto& [name, digest] : names)
        images.emplace(name, TRY_CTX(parse_digest(digest), shown + ": images." + name));
    return images;
}

ErrorOr<void> ImageStore::save(const std::map<std::string, Digest>& images) const {
    nlohmann::json names = nlohmann::json::object();
    for (const auto& [name, digest] : images) names[name] = digest.str();
    nlohmann::json doc = {{"images", names}};
    TRY_CTX(write_file_atomic_at(root_fd_.get(), kImagesFile, json_text(doc, 2) + "\n"), root_);
    return {};
}

ErrorOr<void> ImageStore::tag(std::string_view name, const Digest& manifest) {
    auto normal = TRY(normalize_reference(name));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_EX, root_));
    auto images = TRY(load());
    images[normal] = manifest;
    return save(images);
}

ErrorOr<Digest> ImageStore::resolve(std::string_view name) const {
    if (auto digest = parse_digest(name)) return *digest;
    auto normal = TRY(normalize_reference(name));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_SH, root_));
    auto images = TRY(load());
    auto it = images.find(normal);
    if (it == images.end()) return fail("image '" + normal + "': not in the store");
    return it->second;
}

ErrorOr<std::map<std::string, Digest>> ImageStore::list() const {
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_SH, root_));
    return load();
}

ErrorOr<void> ImageStore::untag(std::string_view name) {
    auto normal = TRY(normalize_reference(name));
    auto lock = TRY(StoreLock::take(lock_fd_.get(), LOCK_EX, root_));
    auto images = TRY(load());
    if (images.erase(normal) == 0) return fail("image '" + normal + "': not in the store");
    return save(images);
}

}  // namespace hutch::images
