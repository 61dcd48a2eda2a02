// Guest addresses in errors read as hex, as they do in every x86 document.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace hutch::microvm {

inline std::string hex(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(value));
    return text;
}

}  // namespace hutch::microvm
