// Bearer-token auth against a real registry: Debian's docker-registry on 127.0.0.1 trusting the
// tokens of a TokenServer (token_server.h) of the test's own. skopeo pushes with credentials
// (getting its tokens itself), then `hutch pull --authfile` goes through the same flow: 401 with a
// Bearer challenge, a token for the challenge's scope from the realm with Basic credentials, the
// requests again with the token. Without credentials, or with wrong ones, the pull fails in one
// line and stores nothing.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "harness.h"
#include "hutch_command.h"
#include "images/registry_auth.h"
#include "images_registry.h"
#include "token_server.h"

using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

const char* const kUser = "token-user";
const char* const kPassword = "token-pass";
const char* const kRepository = "test/token";

// A registry that wants tokens, and the server that issues them.
struct TokenRegistry {
    TokenServer tokens{{.user = kUser, .password = kPassword}};
    LocalRegistry registry{{.user = kUser, .password = kPassword, .token = tokens.registry_auth()}};
};

std::string write_auth_file(const TempDir& dir, const std::string& registry, const std::string& user_pass) {
    std::string path = dir.path() + "/auth.json";
    std::ofstream(path) << R"({"auths": {")" + registry + R"(": {"auth": ")" +
                               hutch::images::base64_encode(user_pass) + R"("}}})";
    return path;
}

size_t blobs_stored(const TempDir& root) {
    std::string blobs = root.path() + "/storage/blobs/sha256";
    if (!fs::exists(blobs)) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(blobs), fs::directory_iterator()));
}

std::string describe(const std::vector<TokenServer::Request>& requests) {
    std::string text;
    for (const auto& r : requests) {
        text += "user=" + r.user + (r.granted ? " granted" : "") + " service=" + r.service + " scopes=";
        for (const auto& scope : r.scopes) text += scope + " ";
        text += "\n";
    }
    return text;
}

}  // namespace

TEST_CASE("registry token auth: skopeo pushes, hutch pull --authfile pulls with a Bearer token",
          "[images][registry][token-auth]") {
    TokenRegistry setup;
    auto& [tokens, registry] = setup;
    TestImage image("hello through a token server\n");
    registry.push(image.dir.path(), kRepository);
    {
        // skopeo got its token from the server, for pushing to the repository.
        auto pushed = tokens.requests();
        INFO(describe(pushed));
        CHECK(std::ranges::any_of(pushed, [](const TokenServer::Request& r) {
            return r.granted && r.user == kUser &&
                   std::ranges::count(r.scopes, "repository:test/token:pull,push");
        }));
    }
    tokens.forget_requests();

    TempDir root;
    std::string name = registry.address() + "/" + kRepository + ":latest";
    auto pulled = hutch_cmd(root, {"pull", "--authfile",
                                   write_auth_file(root, registry.address(), "token-user:token-pass"), name});
    check_ok(pulled);
    CHECK(pulled.out == image.manifest_digest + "\n");
    for (const auto& digest : {image.manifest_digest, image.config_digest, image.layer_digest})
        CHECK(path_exists(root.path() + "/storage/blobs/sha256/" + digest.substr(7)));
    auto listed = images_json(root);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["digest"] == image.manifest_digest);

    // One token, for the scope of the registry's challenge, with the auth file's credentials:
    // the manifest's 401 fetched it, and the blobs reused it.
    auto requests = tokens.requests();
    INFO(describe(requests));
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].user == kUser);
    CHECK(requests[0].granted);
    CHECK(requests[0].service == tokens.registry_auth().service);
    CHECK(requests[0].scopes == std::vector<std::string>{"repository:test/token:pull"});
}

TEST_CASE("registry token auth: no credentials or wrong ones: one line, status 125, nothing stored",
          "[images][registry][token-auth]") {
    TokenRegistry setup;
    auto& [tokens, registry] = setup;
    TestImage image("not for strangers\n");
    registry.push(image.dir.path(), kRepository);
    tokens.forget_requests();
    TempDir root;
    std::string name = registry.address() + "/" + kRepository + ":latest";

    // Anonymous: the token server hands out a token that grants nothing, which the registry refuses.
    auto anonymous = hutch_cmd(root, {"pull", name});
    check_one_line_failure(anonymous);
    CHECK(anonymous.err.find("authentication refused") != std::string::npos);
    {
        auto requests = tokens.requests();
        INFO(describe(requests));
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].user.empty());
        CHECK_FALSE(requests[0].granted);
        CHECK(requests[0].scopes == std::vector<std::string>{"repository:test/token:pull"});
    }
    tokens.forget_requests();

    // Wrong password: the token server says 401, and that is the error.
    auto wrong = hutch_cmd(
        root, {"pull", "--authfile", write_auth_file(root, registry.address(), "token-user:nope"), name});
    check_one_line_failure(wrong);
    CHECK(wrong.err.find("token server " + tokens.registry_auth().realm) != std::string::npos);
    CHECK(wrong.err.find("401") != std::string::npos);
    {
        auto requests = tokens.requests();
        INFO(describe(requests));
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].user == kUser);
        CHECK_FALSE(requests[0].granted);
    }

    CHECK(blobs_stored(root) == 0);
    CHECK(images_json(root).empty());
}
