// A store root of the test's own under /tmp (ROOT/store, made by the store itself), removed with
// everything in it at the end of the test.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace hutch::test {

class StoreDir {
public:
    StoreDir() {
        char name[] = "/tmp/hutch-unit-store-XXXXXX";
        REQUIRE(::mkdtemp(name));
        dir_ = name;
    }
    ~StoreDir() { std::filesystem::remove_all(dir_); }
    StoreDir(const StoreDir&) = delete;
    StoreDir& operator=(const StoreDir&) = delete;
    std::string root() const { return dir_ + "/store"; }

private:
    std::string dir_;
};

}  // namespace hutch::test
