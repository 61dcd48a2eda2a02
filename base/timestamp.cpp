#include "base/timestamp.h"

#include <chrono>
#include <cstdio>

namespace hutch {

std::string rfc3339_now(bool with_nanoseconds) {
    // Calendar arithmetic in std::chrono, not gmtime_r/strftime: glibc loads the time zone
    // (/etc/localtime) before either, 6 system calls on every start for a UTC timestamp.
    using namespace std::chrono;
    auto now = system_clock::now();
    auto day = floor<days>(now);
    year_month_day date{day};
    hh_mm_ss time{floor<std::chrono::nanoseconds>(now - day)};
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lld", static_cast<int>(date.year()),
                          static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                          static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
                          static_cast<long long>(time.seconds().count()));
    if (with_nanoseconds)
        n += std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), ".%09lld",
                           static_cast<long long>(time.subseconds().count()));
    std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), "Z");
    return buf;
}

}  // namespace hutch
