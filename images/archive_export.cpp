#include "images/archive_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "base/file.h"
#include "base/json.h"
#include "images/layout_source.h"
#include "images/stored_documents.h"
#include "images/tar_writer.h"

namespace hutch::images {
namespace {

constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

// The output file under a temporary name in its directory (so the rename stays on one
// filesystem), removed unless commit() renamed it into place.
class PendingFile {
public:
    static ErrorOr<PendingFile> create(const std::string& path) {
        size_t slash = path.rfind('/');
        std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
        std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
        if (base.empty()) return fail(path + ": names a directory, not a file");
        std::string temp = (slash == std::string::npos ? "" : dir) + "." + base + ".hutch-XXXXXX";
        UniqueFd fd(mkostemp(temp.data(), O_CLOEXEC));
        if (!fd) return fail_errno(path);
        // mkostemp makes it 0600; give it the mode any new file gets here.
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(fd.get(), 0666 & ~mask) != 0) {
            unlink(temp.c_str());
            return fail_errno(path + ": chmod");
        }
        return PendingFile(path, std::move(temp), std::move(fd));
    }
    PendingFile(PendingFile&& other) noexcept
        : path_(std::move(other.path_)), temp_(std::exchange(other.temp_, "")), fd_(std::move(other.fd_)) {}
    PendingFile& operator=(PendingFile&&) = delete;
    ~PendingFile() {
        if (!temp_.empty()) unlink(temp_.c_str());
    }

    int fd() const { return fd_.get(); }
    ErrorOr<void> commit() {
        if (fsync(fd_.get()) != 0) return fail_errno(path_ + ": fsync");
        if (rename(temp_.c_str(), path_.c_str()) != 0) return fail_errno("rename to " + path_);
        temp_.clear();
        return {};
    }

private:
    PendingFile(std::string path, std::string temp, UniqueFd fd)
        : path_(std::move(path)), temp_(std::move(temp)), fd_(std::move(fd)) {}
    std::string path_;
    std::string temp_;  // "" once renamed into place
    UniqueFd fd_;
};

// One manifest to save, with every name it is saved under.
struct SavedManifest {
    Digest digest;
    std::string media_type;
    uint64_t size = 0;
    ImageManifest manifest;
    std::vector<std::string> names;
};

// The images grouped by manifest, in the order first asked for.
ErrorOr<std::vector<SavedManifest>> gather(const ContentStore& content,
                                           const std::vector<ExportedImage>& images) {
    std::vector<SavedManifest> saved;
    for (const auto& image : images) {
        auto it = std::ranges::find(saved, image.manifest, &SavedManifest::digest);
        if (it == saved.end()) {
            auto text = TRY(read_document(content, image.manifest));
            auto manifest = TRY_CTX(parse_image_manifest(text), "manifest " + image.manifest.str());
            // The config is read to check that it is there, and lists one diffID per layer.
            TRY(load_config(content, manifest));
            std::string media_type =
                manifest.media_type.empty() ? std::string(media_types::oci_manifest) : manifest.media_type;
            saved.push_back({image.manifest, media_type, text.size(), std::move(manifest), {}});
            it = saved.end() - 1;
        }
        if (!image.name.empty() && std::ranges::find(it->names, image.name) == it->names.end())
            it->names.push_back(image.name);
    }
    return saved;
}

// Writes blobs into the archive, each once however many images share it.
class BlobWriter {
public:
    BlobWriter(const ContentStore& content, TarWriter& tar) : content_(content), tar_(tar) {}
    ErrorOr<void> add(const Digest& digest) {
        if (!written_.insert(digest.str()).second) return {};
        auto fd = TRY(content_.open_blob(digest));
        struct stat st {};
        if (fstat(fd.get(), &st) != 0) return fail_errno("blob " + digest.str() + ": stat");
        return tar_.add_stream(blob_path(digest), static_cast<uint64_t>(st.st_size), fd_reader(fd.get()));
    }

private:
    const ContentStore& content_;
    TarWriter& tar_;
    std::set<std::string> written_;
};

ErrorOr<void> write_oci(const std::vector<SavedManifest>& saved, TarWriter& tar, BlobWriter& blobs) {
    TRY(tar.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    auto manifests = nlohmann::ordered_json::array();
    for (const auto& image : saved) {
        TRY(blobs.add(image.manifest.config.digest));
        for (const auto& layer : image.manifest.layers) TRY(blobs.add(layer.digest));
        TRY(blobs.add(image.digest));
        nlohmann::ordered_json descriptor{
            {"mediaType", image.media_type}, {"digest", image.digest.str()}, {"size", image.size}};
        if (image.names.empty()) manifests.push_back(descriptor);
        for (const auto& name : image.names) {
            descriptor["annotations"] = {{kRefNameAnnotation, name}};
            manifests.push_back(descriptor);
        }
    }
    nlohmann::ordered_json index{
        {"schemaVersion", 2}, {"mediaType", media_types::oci_index}, {"manifests", std::move(manifests)}};
    return tar.add_bytes("index.json", json_text(index));
}

ErrorOr<void> write_docker(const std::vector<SavedManifest>& saved, TarWriter& tar, BlobWriter& blobs) {
    auto entries = nlohmann::ordered_json::array();
    for (const auto& image : saved) {
        TRY(blobs.add(image.manifest.config.digest));
        auto layers = nlohmann::ordered_json::array();
        for (const auto& layer : image.manifest.layers) {
            TRY(blobs.add(layer.digest));
            layers.push_back(blob_path(layer.digest));
        }
        entries.push_back({{"Config", blob_path(image.manifest.config.digest)},
                           {"RepoTags", image.names},
                           {"Layers", std::move(layers)}});
    }
    return tar.add_bytes("manifest.json", json_text(entries));
}

}  // namespace

ErrorOr<void> export_image_archive(const ContentStore& content, const std::vector<ExportedImage>& images,
                                   ArchiveFormat format, const std::string& path) {
    auto saved = TRY(gather(content, images));
    auto file = TRY(PendingFile::create(path));
    int fd = file.fd();
    auto tar = TRY(TarWriter::open([fd](std::span<const std::byte> data) -> ErrorOr<void> {
        return write_all(fd, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    }));
    BlobWriter blobs(content, *tar);
    TRY_CTX(format == ArchiveFormat::oci ? write_oci(saved, *tar, blobs) : write_docker(saved, *tar, blobs),
            path);
    TRY_CTX(tar->close(), path);
    return file.commit();
}

}  // namespace hutch::images
