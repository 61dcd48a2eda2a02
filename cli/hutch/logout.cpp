// hutch logout: removes what `hutch login` saved, from the same file (images/registry_auth.h).
#include <sys/stat.h>

#include <cstdio>

#include "base/file.h"
#include "cli/hutch/verbs.h"
#include "images/registry_auth.h"

namespace hutch::cli {

ErrorOr<void> logout(const std::string& auth_file, const std::string& registry, bool all) {
    std::string file = auth_file.empty() ? images::default_auth_file() : auth_file;
    if (all) {
        // As podman: every registry's entry goes, whatever else the file held with them.
        struct stat st {};
        if (stat(file.c_str(), &st) == 0) TRY(write_file_atomic(file, "{\n    \"auths\": {}\n}"));
        std::printf("Removed login credentials for all registries\n");
        return {};
    }
    if (registry.empty()) return fail("logout: give a registry, or --all");
    std::string name = images::registry_of_auth_key(registry);
    TRY(images::remove_credentials(file, name));
    std::printf("Removed login credentials for %s\n", name.c_str());
    return {};
}

}  // namespace hutch::cli
