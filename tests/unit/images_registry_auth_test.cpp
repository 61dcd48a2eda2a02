// images/registry_auth.h and the transport rule of images/registry_client.h: credentials from an
// auth.json, base64 both ways, tokens from a token server's answer, and which registries may be
// reached over plain HTTP.
#include <catch2/catch.hpp>

#include "images/registry_auth.h"
#include "images/registry_client.h"

using namespace hutch::images;

TEST_CASE("registry auth: base64 round trip and refusals", "[images][auth]") {
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK(base64_encode("") == "");
    for (const std::string& text :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff:x", 4)}) {
        auto back = base64_decode(base64_encode(text));
        REQUIRE(back);
        CHECK(*back == text);
    }
    CHECK_FALSE(base64_decode("abc"));       // not whole quads
    CHECK_FALSE(base64_decode("ab=c"));      // padding inside
    CHECK_FALSE(base64_decode("a b c d "));  // blanks
    CHECK_FALSE(base64_decode("ab\ncd=="));
    CHECK_FALSE(base64_decode("a==="));
}

TEST_CASE("registry auth: credentials from an auth.json", "[images][auth]") {
    const std::string json = R"({"auths": {
        "127.0.0.1:5000": {"auth": "dXNlcjpwYTpzcw=="},
        "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
        "other.example": {"username": "u2", "password": "p2"},
        "broken.example": {"auth": "!!!!"},
        "nocolon.example": {"auth": "bm9jb2xvbg=="}
    }})";
    auto local = credentials_from_auth_json(json, "127.0.0.1:5000");
    REQUIRE(local);
    REQUIRE(*local);
    CHECK((*local)->username == "user");
    CHECK((*local)->password == "pa:ss");  // a password may hold ':'
    auto hub = credentials_from_auth_json(json, "docker.io");
    REQUIRE(hub);
    REQUIRE(*hub);
    CHECK((*hub)->username == "hub");
    auto other = credentials_from_auth_json(json, "other.example");
    REQUIRE(other);
    REQUIRE(*other);
    CHECK((*other)->password == "p2");
    // Another port is another registry.
    auto none = credentials_from_auth_json(json, "127.0.0.1:5001");
    REQUIRE(none);
    CHECK_FALSE(*none);
    auto broken = credentials_from_auth_json(json, "broken.example");
    REQUIRE_FALSE(broken);
    CHECK(broken.error().message.starts_with("auths.broken.example: auth: not base64"));
    CHECK_FALSE(credentials_from_auth_json(json, "nocolon.example"));
    // An empty file's worth, bad JSON and wrong shapes.
    auto empty = credentials_from_auth_json("{}", "x");
    REQUIRE(empty);
    CHECK_FALSE(*empty);
    CHECK(credentials_from_auth_json("{\"auths\": ", "x").error().message == "not valid JSON");
    CHECK_FALSE(credentials_from_auth_json("[]", "x"));
    CHECK_FALSE(credentials_from_auth_json(R"({"auths": []})", "x"));
    CHECK_FALSE(credentials_from_auth_json(R"({"auths": {"x": 5}})", "x"));
    CHECK_FALSE(credentials_from_auth_json(R"({"auths": {"x": {"auth": 5}}})", "x"));
    // Each refusal names the entry and its field, in one line.
    auto message = [](std::string_view json_text) {
        auto result = credentials_from_auth_json(json_text, "127.0.0.1:5000");
        REQUIRE_FALSE(result);
        return result.error().message;
    };
    CHECK(message(R"({"auths": []})") == "auths: expected object");
    CHECK(message(R"({"auths": {"127.0.0.1:5000": 5}})") == "auths.127.0.0.1:5000: expected object");
    CHECK(message(R"({"auths": {"127.0.0.1:5000": {"auth": 5}}})") ==
          "auths.127.0.0.1:5000: auth: expected string");
    CHECK(message(R"({"auths": {"127.0.0.1:5000": {"username": "u"}}})") ==
          "auths.127.0.0.1:5000: password: required");
    CHECK(message(R"({"auths": {"http://127.0.0.1:5000/v2/": {"username": "u", "password": 1}}})") ==
          "auths.http://127.0.0.1:5000/v2/: password: expected string");
    CHECK(message(R"({"auths": {"127.0.0.1:5000": {}}})") ==
          "auths.127.0.0.1:5000: neither \"auth\" nor \"username\" and \"password\"");
    // null is absent, as everywhere else hutch reads JSON.
    auto null_entry =
        credentials_from_auth_json(R"({"auths": {"127.0.0.1:5000": null}, "x": null})", "127.0.0.1:5000");
    REQUIRE(null_entry);
    CHECK_FALSE(*null_entry);
    auto missing = load_credentials("/nonexistent/hutch-auth.json", "x");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("/nonexistent/hutch-auth.json") != std::string::npos);
}

TEST_CASE("registry auth: Basic header and token answers", "[images][auth]") {
    CHECK(basic_authorization({"user", "pass"}) == "Basic dXNlcjpwYXNz");
    CHECK(token_from_json(R"({"token": "abc.def"})").value() == "abc.def");
    CHECK(token_from_json(R"({"access_token": "xyz", "expires_in": 300})").value() == "xyz");
    CHECK(token_from_json(R"({"token": "", "access_token": "xyz"})").value() == "xyz");
    CHECK_FALSE(token_from_json(R"({"expires_in": 300})"));
    CHECK(token_from_json(R"({"token": 5})").error().message == "token answer: token: expected string");
    CHECK(token_from_json(R"({"access_token": null, "token": "t"})").value() == "t");
    CHECK(token_from_json("not json").error().message == "token answer: not valid JSON");
    CHECK_FALSE(token_from_json("[\"token\"]"));
    // A token goes into a header line: one that could break the line is refused.
    CHECK_FALSE(token_from_json(R"({"token": "a\r\nX-Evil: 1"})"));
    CHECK_FALSE(token_from_json(R"({"token": "a b"})"));
    CHECK_FALSE(token_from_json("{\"token\": \"" + std::string(20000, 'a') + "\"}"));
}

TEST_CASE("registry transport: plain HTTP only for loopback and insecure registries", "[images][auth]") {
    CHECK(registry_uses_plain_http("localhost", {}));
    CHECK(registry_uses_plain_http("localhost:5000", {}));
    CHECK(registry_uses_plain_http("127.0.0.1:5000", {}));
    CHECK(registry_uses_plain_http("127.12.0.9", {}));
    CHECK(registry_uses_plain_http("[::1]:5000", {}));
    CHECK_FALSE(registry_uses_plain_http("docker.io", {}));
    CHECK_FALSE(registry_uses_plain_http("128.0.0.1:5000", {}));
    CHECK_FALSE(registry_uses_plain_http("localhost.example.com", {}));
    CHECK_FALSE(registry_uses_plain_http("127.0.0.1.example.com", {}));
    CHECK_FALSE(registry_uses_plain_http("[::2]:5000", {}));
    CHECK(registry_uses_plain_http("registry.lan:5000", {"registry.lan:5000"}));
    CHECK_FALSE(registry_uses_plain_http("registry.lan:5001", {"registry.lan:5000"}));
    CHECK_FALSE(RegistryClient::create("bad/registry"));
    CHECK_FALSE(RegistryClient::create(""));
}

TEST_CASE("registry auth: login and logout rewrite an auth.json, keeping what else it holds",
          "[images][auth]") {
    const std::string existing = R"({"auths": {"https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
        "quay.io": {"auth": "cTpx"}}, "credHelpers": {"gcr.io": "gcloud"}})";
    auto with = auth_json_with(existing, "docker.io", {"me", "pa:ss"});
    REQUIRE(with);
    // The old spelling of Docker Hub's entry is replaced, not shadowed; the rest stays.
    CHECK(credentials_from_auth_json(*with, "docker.io").value().value().password == "pa:ss");
    CHECK(with->find("index.docker.io") == std::string::npos);
    CHECK(credentials_from_auth_json(*with, "quay.io").value().value().username == "q");
    CHECK(with->find("gcloud") != std::string::npos);

    // A file that is not there yet reads as empty.
    auto fresh = auth_json_with("", "127.0.0.1:5000", {"u", "p"});
    REQUIRE(fresh);
    CHECK(credentials_from_auth_json(*fresh, "127.0.0.1:5000").value().value().password == "p");

    auto without = auth_json_without(*with, "registry-1.docker.io");
    REQUIRE(without);
    CHECK_FALSE(credentials_from_auth_json(*without, "docker.io").value());
    CHECK(credentials_from_auth_json(*without, "quay.io").value());
    auto twice = auth_json_without(*without, "docker.io");
    REQUIRE_FALSE(twice);
    CHECK(twice.error().message == "not logged in to docker.io");

    CHECK_FALSE(auth_json_with("[1]", "quay.io", {"u", "p"}));
    CHECK_FALSE(auth_json_with(R"({"auths": 3})", "quay.io", {"u", "p"}));
    CHECK_FALSE(auth_json_without("not json", "quay.io"));
    CHECK(registry_of_auth_key("https://127.0.0.1:5000/v2/") == "127.0.0.1:5000");
}
