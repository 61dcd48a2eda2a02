// For the tests of the builtin VMM (microvm/): whether this host's /dev/kvm can be used, and a
// skip that says why not (the VM test bed's guest has no KVM).
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "microvm/kvm.h"

namespace hutch::test {

// Why KVM cannot be used here, or empty when it can.
inline std::string kvm_unusable() {
    auto kvm = hutch::microvm::Kvm::open();
    return kvm ? "" : kvm.error().message;
}

}  // namespace hutch::test

#define REQUIRE_KVM()                                               \
    do {                                                            \
        if (auto why = hutch::test::kvm_unusable(); !why.empty()) { \
            WARN("skipped: no usable KVM here: " + why);            \
            return;                                                 \
        }                                                           \
    } while (0)
