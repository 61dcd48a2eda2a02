#include "images/archive_members.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <optional>
#include <vector>

namespace hutch::images {
namespace {

constexpr size_t kBlockSize = 64 * 1024;
// Real archives link a member to another once (docker save's repeated layers); more hops than
// this is a loop.
constexpr int kMaxLinkHops = 8;

struct FreeArchive {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, FreeArchive>;

// What a scan for one name found: the data of a regular file, or a link to follow.
struct Found {
    ArchivePtr reader;
    std::string link;  // the member the entry links to; "" for a regular file
};

std::string error_of(archive* a) {
    const char* message = archive_error_string(a);
    return message ? message : "unreadable archive";
}

ErrorOr<ArchivePtr> open_reader(const std::string& path) {
    ArchivePtr reader(archive_read_new());
    if (!reader) return fail("archive_read_new: out of memory");
    archive_read_support_format_tar(reader.get());
    archive_read_support_filter_all(reader.get());
    if (archive_read_open_filename(reader.get(), path.c_str(), kBlockSize) != ARCHIVE_OK)
        return fail(path + ": " + error_of(reader.get()));
    return reader;
}

// The archive positioned at the data of member name, or the member it links to.
ErrorOr<std::optional<Found>> find(const ArchiveMembers& members, const std::string& name) {
    auto reader = TRY(open_reader(members.path()));
    archive_entry* entry = nullptr;
    for (;;) {
        int status = archive_read_next_header(reader.get(), &entry);
        if (status == ARCHIVE_EOF) return std::optional<Found>();
        if (status < ARCHIVE_WARN) return fail(members.path() + ": " + error_of(reader.get()));
        const char* raw = archive_entry_pathname(entry);
        auto path = archive_member_path(raw ? raw : "");
        if (!path || *path != name) continue;
        if (const char* target = archive_entry_hardlink(entry))
            return std::optional(Found{nullptr, TRY_CTX(archive_member_path(target), members.shown(name))});
        if (archive_entry_filetype(entry) == AE_IFLNK) {
            const char* target = archive_entry_symlink(entry);
            size_t slash = name.rfind('/');
            std::string_view dir = slash == std::string::npos ? "" : std::string_view(name).substr(0, slash);
            return std::optional(
                Found{nullptr, TRY_CTX(archive_member_path(target ? target : "", dir), members.shown(name))});
        }
        if (archive_entry_filetype(entry) != AE_IFREG)
            return fail(members.shown(name) + ": not a regular file");
        return std::optional(Found{std::move(reader), ""});
    }
}

// The regular file that name is, or leads to through links.
ErrorOr<ArchivePtr> find_file(const ArchiveMembers& members, const std::string& name) {
    std::string current = name;
    for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
        auto found = TRY(find(members, current));
        if (!found) return fail(members.shown(current) + ": not in the archive");
        if (found->link.empty()) return std::move(found->reader);
        current = found->link;
    }
    return fail(members.shown(name) + ": links lead through more than " + std::to_string(kMaxLinkHops) +
                " members");
}

}  // namespace

ErrorOr<std::string> archive_member_path(std::string_view name, std::string_view base) {
    if (name.empty()) return fail("an empty name");
    if (name.starts_with('/')) return fail("'" + std::string(name) + "' is absolute");
    std::vector<std::string_view> parts;
    auto add = [&](std::string_view text) -> ErrorOr<void> {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = std::min(text.find('/', start), text.size());
            auto part = text.substr(start, end - start);
            if (part == "..") {
                if (parts.empty()) return fail("'" + std::string(name) + "' leads outside the archive");
                parts.pop_back();
            } else if (!part.empty() && part != ".") {
                parts.push_back(part);
            }
            start = end + 1;
        }
        return {};
    };
    TRY(add(base));
    TRY(add(name));
    if (parts.empty()) return fail("'" + std::string(name) + "' names the archive's root");
    std::string out;
    for (auto part : parts) out += (out.empty() ? "" : "/") + std::string(part);
    return out;
}

ErrorOr<ArchiveMembers> ArchiveMembers::open(std::string path) {
    auto reader = TRY(open_reader(path));
    archive_entry* entry = nullptr;
    if (archive_read_next_header(reader.get(), &entry) < ARCHIVE_WARN)
        return fail(path + ": " + error_of(reader.get()));
    return ArchiveMembers(std::move(path));
}

ErrorOr<bool> ArchiveMembers::contains(const std::string& name) const {
    return TRY(find(*this, name)).has_value();
}

ErrorOr<void> ArchiveMembers::read(const std::string& name,
                                   const std::function<ErrorOr<void>(const BlobReader&)>& use) const {
    auto reader = TRY(find_file(*this, name));
    archive* a = reader.get();
    BlobReader read_data = [a](std::span<std::byte> buffer) -> ErrorOr<size_t> {
        la_ssize_t n = archive_read_data(a, buffer.data(), buffer.size());
        if (n < 0) return fail(error_of(a));
        return static_cast<size_t>(n);
    };
    TRY_CTX(use(read_data), shown(name));
    return {};
}

ErrorOr<std::string> ArchiveMembers::read_small(const std::string& name, uint64_t limit) const {
    std::string text;
    TRY(read(name, [&](const BlobReader& reader) -> ErrorOr<void> {
        std::vector<std::byte> buffer(kBlockSize);
        for (;;) {
            size_t n = TRY(reader(buffer));
            if (n == 0) return {};
            text.append(reinterpret_cast<const char*>(buffer.data()), n);
            if (text.size() > limit) return fail("larger than " + std::to_string(limit) + " bytes");
        }
    }));
    return text;
}

}  // namespace hutch::images
