// images/www_authenticate.h: registries' challenges parse into scheme and parameters, odd but
// valid spellings too, and hostile or broken headers give a one-line error, never a crash.
#include <catch2/catch.hpp>

#include "images/www_authenticate.h"

using namespace hutch::images;

namespace {

std::vector<AuthChallenge> parsed(const std::string& header) {
    auto challenges = parse_www_authenticate(header);
    INFO(header << ": " << (challenges ? "" : challenges.error().message));
    REQUIRE(challenges);
    return *challenges;
}

std::string error_of(const std::string& header) {
    auto challenges = parse_www_authenticate(header);
    INFO(header);
    REQUIRE_FALSE(challenges);
    CHECK(challenges.error().message.starts_with("WWW-Authenticate: "));
    CHECK(challenges.error().message.find('\n') == std::string::npos);
    return challenges.error().message;
}

}  // namespace

TEST_CASE("WWW-Authenticate: docker-registry's Bearer and Basic challenges", "[images][auth]") {
    auto bearer = parsed(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
                         R"(scope="repository:library/busybox:pull")");
    REQUIRE(bearer.size() == 1);
    CHECK(bearer[0].scheme == "bearer");
    CHECK(bearer[0].param("realm") == "https://auth.docker.io/token");
    CHECK(bearer[0].param("service") == "registry.docker.io");
    CHECK(bearer[0].param("scope") == "repository:library/busybox:pull");
    CHECK(bearer[0].param("error") == "");

    auto basic = parsed(R"(Basic realm="Registry Realm")");
    REQUIRE(basic.size() == 1);
    CHECK(basic[0].scheme == "basic");
    CHECK(basic[0].param("realm") == "Registry Realm");
}

TEST_CASE("WWW-Authenticate: odd but valid spellings", "[images][auth]") {
    // Quoted commas, '=' and escaped quotes belong to the value.
    auto quoted =
        parsed(R"(Bearer realm="https://a/t?x=1,y=2",scope="repository:a:pull,push",service="s\"q\\")");
    REQUIRE(quoted.size() == 1);
    CHECK(quoted[0].param("realm") == "https://a/t?x=1,y=2");
    CHECK(quoted[0].param("scope") == "repository:a:pull,push");
    CHECK(quoted[0].param("service") == "s\"q\\");
    // Case-insensitive scheme and names, blanks around '=' and ',', empty list elements, tokens
    // as values.
    auto spaced = parsed("  BEARER  Realm = \"r\" ,, , Service=svc ,");
    REQUIRE(spaced.size() == 1);
    CHECK(spaced[0].scheme == "bearer");
    CHECK(spaced[0].param("realm") == "r");
    CHECK(spaced[0].param("service") == "svc");
    // Two challenges in one header, and a bare scheme.
    auto two = parsed(R"(Basic realm="a, b", Bearer realm="https://t",service="x")");
    REQUIRE(two.size() == 2);
    CHECK(two[0].scheme == "basic");
    CHECK(two[0].param("realm") == "a, b");
    CHECK(two[1].scheme == "bearer");
    CHECK(two[1].param("service") == "x");
    auto bare = parsed("Negotiate");
    REQUIRE(bare.size() == 1);
    CHECK(bare[0].params.empty());
    auto token68 = parsed("Negotiate abc+/==, Basic realm=x");
    REQUIRE(token68.size() == 2);
    CHECK(token68[0].token68 == "abc+/==");
    CHECK(token68[1].param("realm") == "x");
    // A missing field is simply absent.
    CHECK(parsed("Bearer service=\"s\"")[0].param("realm") == "");
    CHECK(parsed("Bearer realm=\"\"")[0].param("realm") == "");
}

TEST_CASE("WWW-Authenticate: garbage gives a one-line error", "[images][auth]") {
    CHECK(error_of("").find("no challenge") != std::string::npos);
    CHECK(error_of("  , ,").find("no challenge") != std::string::npos);
    CHECK(error_of("Bearer realm=\"unterminated").find("unterminated") != std::string::npos);
    CHECK(error_of("Bearer realm=\"a\\").find("unterminated") != std::string::npos);
    CHECK(error_of("Bearer realm=").find("no value") != std::string::npos);
    CHECK(error_of("Bearer realm=\"a\" service=\"b\"").find("expected ','") != std::string::npos);
    CHECK(error_of("Bearer realm=a,realm=b").find("given twice") != std::string::npos);
    CHECK(error_of("Bearer realm=\"a\nb\"").find("control character") != std::string::npos);
    CHECK(error_of("\"Bearer\"").find("scheme") != std::string::npos);
    CHECK(error_of("Bearer=x").find("scheme") != std::string::npos);
    CHECK(error_of("Bearer realm=\"x\", =y").size() > 0);
    CHECK(error_of("Bearer \x01\x02").size() > 0);
    CHECK(error_of(std::string(9000, 'a')).find("longer than") != std::string::npos);
    // Bytes that are no text at all (a NUL, high bytes) are refused too, never read past.
    CHECK(error_of(std::string("Bearer realm=\"a\0b\"", 18)).size() > 0);
    CHECK(error_of("\xff\xfe").size() > 0);
}
