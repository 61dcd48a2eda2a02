// An OCI layout in a tar archive (layout_source.h), read in place (archive_members.h).
#include "images/archive_members.h"
#include "images/layout_source.h"

namespace hutch::images {
namespace {

class LayoutArchive : public LayoutSource {
public:
    explicit LayoutArchive(ArchiveMembers members) : members_(std::move(members)) {}

    ErrorOr<std::string> read_top(const std::string& name) override {
        return members_.read_small(name, kMaxDocumentSize);
    }

    ErrorOr<void> ingest(ContentStore& store, const Descriptor& descriptor) override {
        return members_.read(blob_path(descriptor.digest), [&](const BlobReader& reader) {
            return store.ingest(descriptor.digest, descriptor.size, reader);
        });
    }

private:
    ArchiveMembers members_;
};

}  // namespace

ErrorOr<std::unique_ptr<LayoutSource>> open_layout_archive(const std::string& path) {
    auto source = std::make_unique<LayoutArchive>(TRY(ArchiveMembers::open(path)));
    // Read once here, so that an archive without the layout's marker is reported as such.
    TRY(source->read_top("oci-layout"));
    return std::unique_ptr<LayoutSource>(std::move(source));
}

}  // namespace hutch::images
