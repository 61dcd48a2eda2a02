#include "token_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "images/registry_auth.h"

namespace hutch::test {
namespace {

const char* const kService = "hutch-test-registry";
const char* const kIssuer = "hutch-test-token-server";
constexpr int kTokenLifetimeS = 300;
// The server answers one connection at a time: a client that connects and sends nothing holds
// it this long at most.
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr size_t kMaxRequest = 64 * 1024;

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

// JWS's base64url, without padding.
std::string base64url(std::string_view data) {
    std::string text = images::base64_encode(data);
    while (!text.empty() && text.back() == '=') text.pop_back();
    for (char& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return text;
}

// A self-signed certificate of key, valid for an hour: the registry's only trusted root, and the
// one certificate of every token's x5c chain.
X509Ptr self_signed_certificate(EVP_PKEY* key) {
    X509Ptr cert(X509_new());
    REQUIRE(cert);
    REQUIRE(X509_set_version(cert.get(), 2) == 1);
    REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1);
    REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60));
    REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600));
    REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
    X509_NAME* name = X509_get_subject_name(cert.get());
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(kIssuer), -1, -1, 0) == 1);
    REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
    REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
    return cert;
}

std::string der_of(X509* cert) {
    int size = i2d_X509(cert, nullptr);
    REQUIRE(size > 0);
    std::string der(static_cast<size_t>(size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    REQUIRE(i2d_X509(cert, &out) == size);
    return der;
}

std::string pem_of(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(bio);
    REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    REQUIRE(size > 0);
    return std::string(data, static_cast<size_t>(size));
}

// RS256: RSASSA-PKCS1-v1_5 with SHA-256. On the server's thread, where a REQUIRE cannot fail a
// test: "" on failure, a signature the registry refuses.
std::string rs256(EVP_PKEY* key, std::string_view input) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    std::string signature(static_cast<size_t>(EVP_PKEY_get_size(key)), '\0');
    size_t size = signature.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        return "";
    signature.resize(size);
    return signature;
}

std::string percent_decoded(const std::string& text) {
    int size = 0;
    char* decoded = curl_easy_unescape(nullptr, text.c_str(), static_cast<int>(text.size()), &size);
    if (!decoded) return "";
    std::string out(decoded, static_cast<size_t>(size));
    curl_free(decoded);
    return out;
}

// The parts of "GET /token?service=S&scope=A&scope=B HTTP/1.1\r\n...Authorization: Basic X\r\n"
// a token server looks at.
struct TokenQuery {
    std::string path;
    std::string service;
    std::vector<std::string> scopes;
    std::string authorization;
};

TokenQuery parse_head(const std::string& head) {
    TokenQuery query;
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t start = request_line.find(' ') + 1;
    std::string target = request_line.substr(start, request_line.rfind(' ') - start);
    query.path = target.substr(0, target.find('?'));
    if (size_t mark = target.find('?'); mark != std::string::npos) {
        std::string rest = target.substr(mark + 1);
        for (size_t pos = 0; pos <= rest.size();) {
            size_t amp = std::min(rest.find('&', pos), rest.size());
            std::string pair = rest.substr(pos, amp - pos);
            size_t eq = pair.find('=');
            std::string name = pair.substr(0, eq);
            std::string value = eq == std::string::npos ? "" : percent_decoded(pair.substr(eq + 1));
            if (name == "service") query.service = value;
            if (name == "scope") query.scopes.push_back(value);
            pos = amp + 1;
        }
    }
    for (size_t pos = line_end; pos != std::string::npos && pos + 2 < head.size();) {
        size_t next = head.find("\r\n", pos + 2);
        std::string line =
            head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        if (strncasecmp(line.c_str(), "authorization:", 14) == 0) {
            query.authorization = line.substr(14);
            query.authorization.erase(0, query.authorization.find_first_not_of(' '));
        }
        pos = next;
    }
    return query;
}

// The user of a Basic header, and whether the password is the right one.
std::pair<std::string, bool> check_basic(const std::string& authorization,
                                         const TokenServer::Options& options) {
    if (!authorization.starts_with("Basic ")) return {"", false};
    auto decoded = images::base64_decode(authorization.substr(6));
    if (!decoded) return {"?", false};
    size_t colon = decoded->find(':');
    std::string user = decoded->substr(0, colon);
    bool right =
        colon != std::string::npos && user == options.user && decoded->substr(colon + 1) == options.password;
    return {user, right};
}

// The claim granting scope ("repository:test/img:pull,push"); null when it is not one.
nlohmann::json access_of(const std::string& scope) {
    size_t first = scope.find(':'), last = scope.rfind(':');
    if (first == std::string::npos || first == last) return nullptr;
    nlohmann::json actions = nlohmann::json::array();
    std::string list = scope.substr(last + 1);
    for (size_t pos = 0; pos <= list.size();) {
        size_t comma = std::min(list.find(',', pos), list.size());
        if (comma > pos) actions.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return {{"type", scope.substr(0, first)},
            {"name", scope.substr(first + 1, last - first - 1)},
            {"actions", actions}};
}

void send_all(int fd, const std::string& data) {
    for (size_t done = 0; done < data.size();) {
        ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n <= 0 && errno != EINTR) return;
        if (n > 0) done += static_cast<size_t>(n);
    }
}

void respond(int fd, const std::string& status, const std::string& body) {
    send_all(fd, "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

// The request's head (up to its blank line), or "" when it does not come in time.
std::string read_head(int fd) {
    std::string head;
    auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequest) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        pollfd pfd{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return "";
        char buffer[4096];
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return "";
        head.append(buffer, static_cast<size_t>(n));
    }
    return head;
}

}  // namespace

TokenServer::TokenServer(Options options) : options_(std::move(options)) {
    key_.reset(EVP_RSA_gen(2048));
    REQUIRE(key_);
    auto cert = self_signed_certificate(key_.get());
    certificate_der_ = der_of(cert.get());
    std::ofstream(dir_.path() + "/certificate.pem") << pem_of(cert.get());

    // Port 0: the kernel picks a free one, and nothing can take it before listen().
    listener_.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener_.get() >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener_.get(), 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    int stop[2];
    REQUIRE(pipe2(stop, O_CLOEXEC) == 0);
    stop_read_.reset(stop[0]);
    stop_write_.reset(stop[1]);
    // Last: a constructor that throws after this would destroy a joinable std::thread.
    thread_ = std::thread([this] { serve(); });
}

TokenServer::~TokenServer() {
    while (write(stop_write_.get(), "x", 1) == -1 && errno == EINTR) {
    }
    thread_.join();
}

TokenServer::RegistryAuth TokenServer::registry_auth() const {
    return {"http://127.0.0.1:" + std::to_string(port_) + "/token", kService, kIssuer,
            dir_.path() + "/certificate.pem"};
}

std::vector<TokenServer::Request> TokenServer::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void TokenServer::forget_requests() {
    std::lock_guard lock(mutex_);
    requests_.clear();
}

void TokenServer::serve() {
    for (;;) {
        pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents != 0) return;
        UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (connection.get() >= 0) answer(connection.get());
    }
}

void TokenServer::answer(int connection) {
    std::string head = read_head(connection);
    if (head.empty()) return;
    TokenQuery query = parse_head(head);
    if (query.path != "/token") return respond(connection, "404 Not Found", R"({"errors":[]})");
    Request request{.service = query.service, .scopes = query.scopes};
    bool wrong = false;
    if (!query.authorization.empty()) {
        auto [user, right] = check_basic(query.authorization, options_);
        request.user = user;
        request.granted = right;
        wrong = !right;
    }
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
    }
    if (wrong)
        return respond(connection, "401 Unauthorized",
                       R"({"errors":[{"code":"UNAUTHORIZED","message":"wrong user name or password"}]})");
    std::string token = token_for(request);
    nlohmann::json body = {{"token", token}, {"access_token", token}, {"expires_in", kTokenLifetimeS}};
    respond(connection, "200 OK", body.dump());
}

// A JWT as registry 2.8 verifies it (registry/auth/token): the certificate chain in x5c must
// lead to rootcertbundle, iss must be the configured issuer, aud the service, now within
// [nbf, exp], and access the grants. An anonymous request gets a token that grants nothing.
std::string TokenServer::token_for(const Request& request) const {
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    nlohmann::json header = {
        {"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {images::base64_encode(certificate_der_)}}};
    nlohmann::json access = nlohmann::json::array();
    if (request.granted)
        for (const auto& scope : request.scopes)
            if (auto grant = access_of(scope); !grant.is_null()) access.push_back(grant);
    static std::atomic<int> serial = 0;
    nlohmann::json claims = {{"iss", kIssuer},
                             {"sub", request.user},
                             {"aud", request.service},
                             {"exp", now + kTokenLifetimeS},
                             {"nbf", now - 10},
                             {"iat", now},
                             {"jti", "hutch-test-" + std::to_string(++serial)},
                             {"access", access}};
    std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
    return input + "." + base64url(rs256(key_.get(), input));
}

}  // namespace hutch::test
