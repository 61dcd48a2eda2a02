#include "images/image_reference.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace hutch::images {
namespace {

// Docker's limits: a whole name of at most 255 characters, a tag of at most 128.
constexpr size_t kMaxName = 255;
constexpr size_t kMaxTag = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// A first component is a registry when docker would take it for one: "localhost", or a name
// with a dot (a domain) or a colon (a port). Anything else is the repository's first component.
bool looks_like_registry(std::string_view first) {
    return first == "localhost" || first.find_first_of(".:") != std::string_view::npos;
}

// A registry: host[:port], the host a name of letters, digits, '-' and '.', or a bracketed IPv6
// address; the port digits only.
ErrorOr<void> check_registry(std::string_view registry) {
    std::string_view host = registry, port;
    if (registry.starts_with('[')) {
        size_t close = registry.find(']');
        if (close == std::string_view::npos)
            return fail("registry \"" + std::string(registry) + "\": unclosed '['");
        std::string_view inside = registry.substr(1, close - 1);
        if (inside.empty() || !std::ranges::all_of(inside, [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
            }))
            return fail("registry \"" + std::string(registry) + "\": not an IPv6 address");
        std::string_view rest = registry.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            return fail("registry \"" + std::string(registry) + "\": unexpected text after ']'");
        if (!rest.empty()) port = rest.substr(1);
        if (rest == ":") port = ":";  // an empty port: refused below
    } else {
        size_t colon = registry.find(':');
        if (colon != std::string_view::npos) {
            host = registry.substr(0, colon);
            port = registry.substr(colon + 1);
            if (port.empty()) port = ":";
        }
        if (host.empty() || host.front() == '-' || host.front() == '.' || host.back() == '-' ||
            host.back() == '.' ||
            !std::ranges::all_of(host, [](char c) { return is_alnum(c) || c == '-' || c == '.'; }))
            return fail("registry \"" + std::string(registry) + "\": not a host name");
    }
    if (!port.empty() &&
        (port.size() > 5 || !std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; })))
        return fail("registry \"" + std::string(registry) + "\": port must be 1 to 5 digits");
    return {};
}

// One path component: lowercase letters and digits, separated by '.', '_', "__" or runs of '-'
// (the distribution spec's grammar).
bool valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (size_t i = 0; i < c.size(); ++i) {
        char ch = c[i];
        if (is_lower_alnum(ch)) continue;
        if (ch == '-') continue;  // runs of '-' are allowed, and never at the ends (checked above)
        if (ch != '.' && ch != '_') return false;
        // '.' or '_' or "__" stands between two alphanumerics.
        size_t end = i + 1;
        if (ch == '_' && end < c.size() && c[end] == '_') ++end;
        if (!is_lower_alnum(c[i - 1]) || !is_lower_alnum(c[end])) return false;
        i = end - 1;
    }
    return true;
}

ErrorOr<void> check_repository(const std::string& repository) {
    size_t start = 0;
    for (;;) {
        size_t slash = repository.find('/', start);
        std::string_view part = std::string_view(repository).substr(start, slash - start);
        if (part.empty()) return fail("repository \"" + repository + "\": empty path component");
        if (!valid_component(part)) {
            bool upper = std::ranges::any_of(part, [](char c) { return c >= 'A' && c <= 'Z'; });
            return fail("repository \"" + repository + "\": " +
                        (upper ? "must be lowercase"
                               : "component \"" + std::string(part) +
                                     "\" must be lowercase letters and digits separated by '.', '_' or '-'"));
        }
        if (slash == std::string::npos) return {};
        start = slash + 1;
    }
}

ErrorOr<void> check_tag(const std::string& tag) {
    auto word = [](char c) { return is_alnum(c) || c == '_'; };
    if (tag.empty()) return fail("empty tag");
    if (tag.size() > kMaxTag) return fail("tag longer than 128 characters");
    if (!word(tag.front()) ||
        !std::ranges::all_of(tag, [&](char c) { return word(c) || c == '.' || c == '-'; }))
        return fail("tag \"" + tag + "\": only letters, digits, '_', '.' and '-' (not first) are allowed");
    return {};
}

// The error quotes what the user typed: control bytes become '?', so that it stays one line.
Error printable(Error error) {
    for (char& c : error.message)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return error;
}

}  // namespace

std::string ImageReference::str() const {
    std::string text = registry + "/" + repository;
    if (digest) return text + "@" + digest->str();
    return text + ":" + tag;
}

ErrorOr<ImageReference> parse_image_reference(std::string_view text) {
    auto parse = [&]() -> ErrorOr<ImageReference> {
        if (text.empty()) return fail("empty image reference");
        if (text.size() > kMaxName + 1 + kMaxTag + 1 + 135) return fail("image reference too long");
        ImageReference ref;
        std::string_view name = text;
        if (size_t at = name.find('@'); at != std::string_view::npos) {
            ref.digest = TRY(parse_digest(name.substr(at + 1)));
            name = name.substr(0, at);
        }
        // A tag follows the last ':' that comes after the last '/' (an earlier one is a port).
        size_t slash = name.rfind('/');
        size_t colon = name.rfind(':');
        if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
            ref.tag = std::string(name.substr(colon + 1));
            TRY(check_tag(ref.tag));
            name = name.substr(0, colon);
        } else {
            ref.tag = "latest";
        }
        size_t first_slash = name.find('/');
        if (first_slash != std::string_view::npos && looks_like_registry(name.substr(0, first_slash))) {
            ref.registry = std::string(name.substr(0, first_slash));
            TRY(check_registry(ref.registry));
            ref.repository = std::string(name.substr(first_slash + 1));
        } else {
            ref.registry = "docker.io";
            ref.repository = std::string(name);
        }
        if (ref.registry == "index.docker.io") ref.registry = "docker.io";
        // Docker Hub's official images live under library/.
        if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos)
            ref.repository = "library/" + ref.repository;
        if (ref.repository.empty()) return fail("no repository name");
        TRY(check_repository(ref.repository));
        // As docker: a bare name of 64 hex digits would read as an image ID.
        if (ref.repository == "library/" + std::string(name) && name.size() == 64 &&
            std::ranges::all_of(name, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
            return fail("64 hex digits name an image ID, not a repository");
        if (ref.registry.size() + 1 + ref.repository.size() > kMaxName)
            return fail("name longer than 255 characters");
        return ref;
    };
    return map_error(parse(), [&](const Error& e) {
        return printable(e.context("image reference \"" + std::string(text) + "\""));
    });
}

ErrorOr<std::string> normalize_reference(std::string_view text) {
    return TRY(parse_image_reference(text)).str();
}

}  // namespace hutch::images
