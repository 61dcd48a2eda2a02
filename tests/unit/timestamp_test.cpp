// RFC 3339 timestamps, computed without the C library's time zone machinery.
#include "base/timestamp.h"

#include <time.h>

#include <catch2/catch.hpp>
#include <regex>

TEST_CASE("rfc3339_now is UTC, with or without nanoseconds, and agrees with gmtime", "[base]") {
    std::string plain = hutch::rfc3339_now(false);
    std::string precise = hutch::rfc3339_now(true);
    CHECK(std::regex_match(plain, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")));
    CHECK(std::regex_match(precise, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z)")));
    // Up to the minute, against the C library's own conversion (a second boundary may pass between).
    time_t now = time(nullptr);
    struct tm tm {};
    gmtime_r(&now, &tm);
    char expected[32];
    strftime(expected, sizeof expected, "%Y-%m-%dT%H:%M", &tm);
    CHECK(plain.substr(0, 16) == expected);
}
