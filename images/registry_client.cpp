#include "images/registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "images/http_client.h"

namespace hutch::images {
namespace {

// Manifests are small documents (containerd refuses those over 4 MiB too).
constexpr uint64_t kMaxManifest = 4 << 20;
constexpr uint64_t kMaxTokenAnswer = 1 << 20;
constexpr long kDocumentTimeoutS = 120;

// The host of "host[:port]" or "[v6]:port".
std::string host_of(const std::string& registry) {
    if (registry.starts_with('[')) {
        size_t close = registry.find(']');
        return registry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    }
    return registry.substr(0, registry.find(':'));
}

bool is_loopback(const std::string& host) {
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// Names that go into a URL path: a repository ("a/b-c/d_e.f") and a tag or digest. They come
// from a parsed reference, but a caller's slip must not turn into another URL ("?", "#", "..").
ErrorOr<void> check_url_parts(const std::string& repository, const std::string& reference) {
    auto repo_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
               c == '/';
    };
    auto ref_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':';
    };
    if (repository.empty() || repository.size() > 255 || !std::ranges::all_of(repository, repo_char) ||
        repository.front() == '/' || repository.back() == '/' || repository.find("..") != std::string::npos ||
        repository.find("//") != std::string::npos)
        return fail("invalid repository name \"" + one_line(repository) + "\"");
    if (reference.empty() || reference.size() > 200 || !std::ranges::all_of(reference, ref_char) ||
        reference.front() == '.')
        return fail("invalid tag or digest \"" + one_line(reference) + "\"");
    return {};
}

// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
std::string url_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += "0123456789ABCDEF"[static_cast<unsigned char>(c) >> 4];
            out += "0123456789ABCDEF"[static_cast<unsigned char>(c) & 0xf];
        }
    }
    return out;
}

// A token realm comes from the registry: https://, or http:// to a host that may be plain.
ErrorOr<void> check_realm(const std::string& realm, const std::vector<std::string>& insecure) {
    struct UrlDeleter {
        void operator()(CURLU* u) const { curl_url_cleanup(u); }
    };
    struct StrDeleter {
        void operator()(char* s) const { curl_free(s); }
    };
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    if (!url) return fail("out of memory");
    if (curl_url_set(url.get(), CURLUPART_URL, realm.c_str(), 0) != CURLUE_OK)
        return fail("token realm \"" + one_line(realm) + "\": not a URL");
    char *scheme_raw = nullptr, *host_raw = nullptr, *port_raw = nullptr;
    curl_url_get(url.get(), CURLUPART_SCHEME, &scheme_raw, 0);
    curl_url_get(url.get(), CURLUPART_HOST, &host_raw, 0);
    curl_url_get(url.get(), CURLUPART_PORT, &port_raw, 0);
    std::unique_ptr<char, StrDeleter> scheme(scheme_raw), host(host_raw), port(port_raw);
    std::string s = scheme ? scheme.get() : "";
    if (s == "https") return {};
    std::string registry = host ? host.get() : "";
    if (port) registry += std::string(":") + port.get();
    if (s == "http" && registry_uses_plain_http(registry, insecure)) return {};
    return fail("token realm \"" + one_line(realm) +
                "\": must be https:// (plain http only for loopback or insecure registries)");
}

// "application/vnd.oci.image.manifest.v1+json; charset=utf-8" -> the media type alone.
std::string media_type_of(const std::string& content_type) {
    std::string type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
    for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return type;
}

// The manifest's digest, checked against the one asked for (pull by digest) and the one the
// server announced (Docker-Content-Digest), each in its own algorithm.
ErrorOr<Digest> verify_manifest_digest(const std::string& bytes, const std::string& reference,
                                       const std::string& announced) {
    Digest digest = TRY(digest_of(bytes));
    if (reference.find(':') != std::string::npos) {
        Digest asked = TRY(parse_digest(reference));
        Digest actual = TRY(digest_of(bytes, asked.algorithm));
        if (actual != asked)
            return fail("manifest has digest " + actual.str() + ", not the " + asked.str() + " asked for");
        digest = asked;
    }
    if (!announced.empty()) {
        Digest said =
            TRY_CTX(parse_digest(announced), "Docker-Content-Digest \"" + one_line(announced) + "\"");
        Digest actual = TRY(digest_of(bytes, said.algorithm));
        if (actual != said)
            return fail("manifest has digest " + actual.str() + ", the server said " + said.str());
    }
    return digest;
}

}  // namespace

const char* const kManifestMediaTypes[4] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
};

bool registry_uses_plain_http(const std::string& registry,
                              const std::vector<std::string>& insecure_registries) {
    if (std::ranges::find(insecure_registries, registry) != insecure_registries.end()) return true;
    return is_loopback(host_of(registry));
}

ErrorOr<RegistryClient> RegistryClient::create(const std::string& registry, const RegistryOptions& options) {
    if (registry.empty() || registry.find_first_of("/?#@ \t\r\n") != std::string::npos)
        return fail("invalid registry \"" + one_line(registry) + "\"");
    bool plain = registry_uses_plain_http(registry, options.insecure_registries);
    // Docker Hub's API lives at another name than the one images are known by.
    std::string host = registry == "docker.io" ? "registry-1.docker.io" : registry;
    std::optional<Credentials> credentials;
    if (options.credentials)
        credentials = options.credentials;
    else if (!options.auth_file.empty())
        credentials = TRY(load_credentials(options.auth_file, registry));
    RegistryClient client(registry, (plain ? "http://" : "https://") + host, plain, std::move(credentials),
                          options.auth_file);
    client.insecure_ = options.insecure_registries;
    return client;
}

std::vector<std::string> RegistryClient::request_headers(std::vector<std::string> extra) const {
    if (!authorization_.empty()) extra.push_back("Authorization: " + authorization_);
    return extra;
}

ErrorOr<std::string> RegistryClient::fetch_token(const AuthChallenge& challenge) {
    std::string realm = challenge.param("realm");
    if (realm.empty()) return fail("Bearer challenge without a realm");
    TRY(check_realm(realm, insecure_));
    std::string url = realm;
    char separator = realm.find('?') == std::string::npos ? '?' : '&';
    for (const char* name : {"service", "scope"}) {
        std::string value = challenge.param(name);
        if (value.empty()) continue;
        url += separator + std::string(name) + "=" + url_escape(value);
        separator = '&';
    }
    HttpRequest request{url, {}, true, kMaxTokenAnswer, kDocumentTimeoutS};
    // check_realm allowed http:// only where plain HTTP is allowed; redirects stay on https://
    // unless the realm itself was plain.
    request.allow_plain_http = realm.starts_with("http://");
    if (credentials_) request.headers.push_back("Authorization: " + basic_authorization(*credentials_));
    auto response = TRY(http_get(request));
    if (response.status != 200) return fail("token server " + one_line(realm) + ": " + response.status_text);
    return TRY_CTX(token_from_json(response.body), "token server " + one_line(realm));
}

ErrorOr<void> RegistryClient::authorize(const std::string& www_authenticate) {
    if (www_authenticate.empty()) return fail("HTTP 401 without a WWW-Authenticate challenge");
    auto challenges = TRY(parse_www_authenticate(www_authenticate));
    auto find = [&](const char* scheme) {
        return std::ranges::find_if(challenges, [&](const AuthChallenge& c) { return c.scheme == scheme; });
    };
    if (auto bearer = find("bearer"); bearer != challenges.end()) {
        authorization_ = "Bearer " + TRY(fetch_token(*bearer));
        return {};
    }
    if (find("basic") != challenges.end()) {
        if (!credentials_)
            return fail("authentication required, and no credentials for " + registry_ +
                        (auth_file_.empty() ? " (no auth file given)" : " in " + auth_file_));
        authorization_ = basic_authorization(*credentials_);
        return {};
    }
    return fail("unsupported authentication scheme \"" + one_line(challenges.front().scheme) + "\"");
}

ErrorOr<void> RegistryClient::check_access() {
    auto check = [&]() -> ErrorOr<void> {
        HttpRequest request{base_url_ + "/v2/", {}, plain_http_, kMaxTokenAnswer, kDocumentTimeoutS};
        auto response = TRY(http_get(request));
        if (response.status == 401) {
            TRY(authorize(response.header("www-authenticate")));
            request.headers = request_headers({});
            response = TRY(http_get(request));
        }
        if (response.status == 401) return fail("authentication refused: " + response.status_text);
        if (response.status != 200) return fail(response.status_text);
        return {};
    };
    return map_error(check(), [&](const Error& e) { return e.context(registry_); });
}

ErrorOr<FetchedManifest> RegistryClient::fetch_manifest(const std::string& repository,
                                                        const std::string& reference) {
    std::string what = registry_ + "/" + one_line(repository) + ":" + one_line(reference) + ": manifest";
    auto fetch = [&]() -> ErrorOr<FetchedManifest> {
        TRY(check_url_parts(repository, reference));
        std::string accept = "Accept: ";
        for (const char* type : kManifestMediaTypes)
            accept += std::string(accept.size() > 8 ? ", " : "") + type;
        HttpRequest request{base_url_ + "/v2/" + repository + "/manifests/" + reference,
                            {},
                            plain_http_,
                            kMaxManifest,
                            kDocumentTimeoutS};
        request.headers = request_headers({accept});
        auto response = TRY(http_get(request));
        if (response.status == 401) {
            TRY(authorize(response.header("www-authenticate")));
            request.headers = request_headers({accept});
            response = TRY(http_get(request));
        }
        if (response.status == 401) return fail("authentication refused: " + response.status_text);
        if (response.status != 200) return fail(response.status_text);
        Digest digest =
            TRY(verify_manifest_digest(response.body, reference, response.header("docker-content-digest")));
        return FetchedManifest{std::move(response.body), media_type_of(response.header("content-type")),
                               digest};
    };
    return map_error(fetch(), [&](const Error& e) { return e.context(what); });
}

ErrorOr<void> RegistryClient::fetch_blob(const std::string& repository, const Digest& digest, uint64_t size,
                                         ContentStore& store, const std::function<void(uint64_t)>& progress,
                                         BlobSink* sink) {
    std::string what = registry_ + "/" + one_line(repository) + ": blob " + digest.str();
    // One try: streams the answer into the store. A 401 is left for the caller to answer.
    long status = 0;
    std::string challenge;
    auto attempt = [&]() -> ErrorOr<void> {
        HttpRequest request{base_url_ + "/v2/" + repository + "/blobs/" + digest.str(), request_headers({}),
                            plain_http_, 0, 0};
        auto stream = TRY(HttpStream::start(request));
        uint64_t received = 0;
        BlobReader reader = [&](std::span<std::byte> buffer) -> ErrorOr<size_t> {
            size_t n = TRY(stream->read(buffer));
            received += n;
            if (n > 0 && progress) progress(received);
            if (n > 0) return n;
            status = stream->status();
            challenge = stream->header("www-authenticate");
            if (status != 200) return fail(stream->describe_status());
            return 0;
        };
        // A retry after a 401 may feed the same sink: the 401's body never reached it (read()
        // hands out only a 2xx body).
        return store.ingest(digest, size, reader, sink);
    };
    auto fetch = [&]() -> ErrorOr<void> {
        TRY(check_url_parts(repository, digest.str()));
        if (TRY(store.has(digest))) return {};
        auto result = attempt();
        if (result || status != 401) return result;
        TRY(authorize(challenge));
        result = attempt();
        if (!result && status == 401) return fail("authentication refused: " + result.error().message);
        return result;
    };
    return map_error(fetch(), [&](const Error& e) { return e.context(what); });
}

}  // namespace hutch::images
