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
    // Up to the minute, against the C library's own conversion, taken before and after (a minute
    // may turn in between).
    auto minute = [](time_t t) {
        struct tm tm {};
        gmtime_r(&t, &tm);
        char text[32];
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M", &tm);
        return std::string(text);
    };
    time_t before = time(nullptr);
    std::string now = hutch::rfc3339_now(false).substr(0, 16);
    time_t after = time(nullptr);
    CHECK((now == minute(before) || now == minute(after)));
}
