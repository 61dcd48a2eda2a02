// What the parent's capability code (capabilities.cpp) and the child's (credentials.cpp) share:
// bit masks of capability numbers, libcap's names for them, and a libcap state owned by RAII.
#pragma once

#include <sys/capability.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

namespace hutch::security {

struct CapFree {
    void operator()(void* p) const { cap_free(p); }
};
using CapState = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

inline uint64_t cap_bit(int cap) { return uint64_t{1} << cap; }

// "CAP_SYS_ADMIN" for cap 21; the number when libcap has no name for it.
inline std::string cap_name(int cap) {
    std::unique_ptr<char, CapFree> name(cap_to_name(cap));
    if (!name) return std::to_string(cap);
    std::string upper(name.get());
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
}

}  // namespace hutch::security
