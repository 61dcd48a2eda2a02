// images/http_client.h and the registry client against hostile or broken answers, served by a
// one-shot server on 127.0.0.1 in the test: endless headers, bodies longer than allowed, a
// garbage challenge, a lying Docker-Content-Digest. Each gives a one-line error, never a crash.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "images/http_client.h"
#include "images/registry_client.h"

using namespace hutch;
using namespace hutch::images;

namespace {

// Answers every connection (up to `count`) with the same bytes, then closes it.
class CannedServer {
public:
    explicit CannedServer(std::string answer, int count = 1) : answer_(std::move(answer)) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(fd_, 4) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this, count] { serve(count); });
    }
    ~CannedServer() {
        shutdown(fd_, SHUT_RDWR);  // wakes a thread still in accept()
        thread_.join();
        close(fd_);
    }
    CannedServer(const CannedServer&) = delete;
    CannedServer& operator=(const CannedServer&) = delete;
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    void serve(int count) {
        for (int i = 0; i < count; ++i) {
            int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (conn < 0) return;
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = read(conn, buffer, sizeof buffer);
                if (n <= 0) break;
                request.append(buffer, static_cast<size_t>(n));
            }
            size_t sent = 0;
            while (sent < answer_.size()) {
                ssize_t n = send(conn, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<size_t>(n);
            }
            close(conn);
        }
    }
    std::string answer_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
};

std::string one_line_error(const Error& error) {
    INFO(error.message);
    CHECK(error.message.find('\n') == std::string::npos);
    return error.message;
}

}  // namespace

TEST_CASE("http: endless headers and overlong bodies are cut off", "[images][http]") {
    std::string many_headers = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 200; ++i)
        many_headers += "X-Padding-" + std::to_string(i) + ": " + std::string(1000, 'x') + "\r\n";
    many_headers += "Content-Length: 2\r\n\r\nok";
    CannedServer headers(many_headers);
    auto huge = http_get({"http://" + headers.address() + "/", {}, true, 1024, 10});
    REQUIRE_FALSE(huge);
    CHECK(one_line_error(huge.error()).find("response headers larger than 64 KiB") != std::string::npos);

    // No Content-Length: the limit holds as the bytes come.
    CannedServer body("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(5000, 'b'));
    auto long_body = http_get({"http://" + body.address() + "/", {}, true, 1024, 10});
    REQUIRE_FALSE(long_body);
    CHECK(one_line_error(long_body.error()).find("answer larger than 1024 bytes") != std::string::npos);

    // A body shorter than its Content-Length: the connection closed early.
    CannedServer cut("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    auto partial = http_get({"http://" + cut.address() + "/", {}, true, 1024, 10});
    REQUIRE_FALSE(partial);
    one_line_error(partial.error());

    // Plain http:// is refused unless the request allows it.
    CannedServer plain("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto refused = http_get({"http://" + plain.address() + "/", {}, false, 1024, 10});
    REQUIRE_FALSE(refused);
    one_line_error(refused.error());
}

TEST_CASE("registry client: garbage challenges and lying digests are refused", "[images][http]") {
    CannedServer garbage(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"unterminated\r\n"
        "Content-Length: 0\r\n\r\n");
    auto client = RegistryClient::create(garbage.address());
    REQUIRE(client);
    auto challenged = client->fetch_manifest("a/b", "latest");
    REQUIRE_FALSE(challenged);
    CHECK(one_line_error(challenged.error()).find("WWW-Authenticate: unterminated quoted value") !=
          std::string::npos);

    // A realm on plain http:// to a host that is not loopback is never contacted.
    CannedServer far_realm(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://auth.example/token\"\r\n"
        "Content-Length: 0\r\n\r\n");
    auto far = RegistryClient::create(far_realm.address())->fetch_manifest("a/b", "latest");
    REQUIRE_FALSE(far);
    CHECK(one_line_error(far.error()).find("must be https://") != std::string::npos);

    std::string manifest = R"({"schemaVersion":2})";
    std::string lie = "sha256:" + std::string(64, '0');
    CannedServer lying(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
        "Docker-Content-Digest: " +
            lie + "\r\nContent-Length: " + std::to_string(manifest.size()) + "\r\n\r\n" + manifest,
        2);
    auto liar = RegistryClient::create(lying.address());
    REQUIRE(liar);
    auto by_tag = liar->fetch_manifest("a/b", "latest");
    REQUIRE_FALSE(by_tag);
    CHECK(one_line_error(by_tag.error()).find("the server said " + lie) != std::string::npos);
    auto by_digest = liar->fetch_manifest("a/b", lie);
    REQUIRE_FALSE(by_digest);
    CHECK(one_line_error(by_digest.error()).find("not the " + lie + " asked for") != std::string::npos);
}
