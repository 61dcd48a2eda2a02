#include "images/reference.h"

#include <algorithm>

#include "images/digest.h"

namespace hutch::images {
namespace {

constexpr size_t kMaxNameLength = 255;  // distribution/reference's NameTotalLengthMax
constexpr size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// A path component: lowercase alphanumerics, separated by ".", "_", "__" or any run of "-".
bool valid_path_component(std::string_view part) {
    if (part.empty() || !is_lower_alnum(part.front()) || !is_lower_alnum(part.back())) return false;
    for (size_t i = 0; i < part.size();) {
        if (is_lower_alnum(part[i])) {
            ++i;
            continue;
        }
        size_t run = i;
        while (run < part.size() && !is_lower_alnum(part[run])) ++run;
        std::string_view separator = part.substr(i, run - i);
        bool dashes = std::all_of(separator.begin(), separator.end(), [](char c) { return c == '-'; });
        if (!(separator == "." || separator == "_" || separator == "__" || dashes)) return false;
        i = run;
    }
    return true;
}

// A registry host: DNS labels joined by ".", and an optional ":port".
bool valid_domain(std::string_view domain) {
    size_t colon = domain.find(':');
    std::string_view host = domain.substr(0, colon);
    if (colon != std::string_view::npos) {
        std::string_view port = domain.substr(colon + 1);
        if (port.empty() ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
    }
    size_t start = 0;
    for (;;) {
        size_t dot = host.find('.', start);
        std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
        if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool valid_tag(std::string_view tag) {
    auto word = [](char c) { return is_alnum(c) || c == '_'; };
    if (tag.empty() || tag.size() > kMaxTagLength || !word(tag.front())) return false;
    return std::all_of(tag.begin(), tag.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

// The first component names a registry when it looks like a host (docker's rule): it has a "."
// or a ":", is "localhost", or has an uppercase letter (which a repository path cannot have).
bool names_domain(std::string_view first) {
    bool upper = std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    return first.find_first_of(".:") != std::string_view::npos || first == "localhost" || upper;
}

// "domain/path", with docker.io and library/ filled in.
ErrorOr<std::string> normalize_name(std::string_view name, std::string_view shown) {
    std::string domain = "docker.io";
    std::string_view path = name;
    size_t slash = name.find('/');
    if (slash != std::string_view::npos && names_domain(name.substr(0, slash))) {
        domain = std::string(name.substr(0, slash));
        path = name.substr(slash + 1);
        if (!valid_domain(domain))
            return fail("reference '" + std::string(shown) + "': bad registry '" + domain + "'");
        if (domain == "index.docker.io") domain = "docker.io";
    }
    if (path.size() == 64 && domain == "docker.io" && std::all_of(path.begin(), path.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
        return fail("reference '" + std::string(shown) + "': a 64-hex name would read as an image ID");
    std::string full_path(path);
    if (domain == "docker.io" && path.find('/') == std::string_view::npos) full_path = "library/" + full_path;
    size_t start = 0;
    for (;;) {
        size_t next = full_path.find('/', start);
        std::string_view part =
            std::string_view(full_path).substr(start, next == std::string::npos ? next : next - start);
        if (!valid_path_component(part))
            return fail("reference '" + std::string(shown) + "': bad repository path component '" +
                        std::string(part) + "'");
        if (next == std::string::npos) break;
        start = next + 1;
    }
    std::string result = domain + "/" + full_path;
    if (result.size() > kMaxNameLength)
        return fail("reference '" + std::string(shown) + "': name longer than 255 characters");
    return result;
}

}  // namespace

ErrorOr<std::string> normalize_reference(std::string_view reference) {
    if (reference.empty()) return fail("reference: empty");
    std::string_view rest = reference;
    std::string digest;
    if (size_t at = rest.find('@'); at != std::string_view::npos) {
        auto parsed =
            TRY_CTX(parse_digest(rest.substr(at + 1)), "reference '" + std::string(reference) + "'");
        digest = "@" + parsed.str();
        rest = rest.substr(0, at);
    }
    std::string tag;
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
        tag = std::string(rest.substr(colon + 1));
        if (!valid_tag(tag)) return fail("reference '" + std::string(reference) + "': bad tag '" + tag + "'");
        rest = rest.substr(0, colon);
    }
    auto name = TRY(normalize_name(rest, reference));
    if (tag.empty() && digest.empty()) tag = "latest";
    return name + (tag.empty() ? "" : ":" + tag) + digest;
}

}  // namespace hutch::images
