// The `hutch` binary as a person runs it, with a --storage-root of the test's own, and the checks
// of what that person sees: status 0, or status 125 with exactly one line on stderr.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.h"
#include "images_registry.h"

namespace hutch::test {

// hutch --storage-root ROOT/storage --runroot ROOT/run ARGS..., feeding stdin_data.
CommandResult hutch_cmd(const TempDir& root, std::vector<std::string> args,
                        const std::string& stdin_data = "");
// REQUIREs status 0, showing both outputs otherwise.
void check_ok(const CommandResult& r);
// A failure of hutch itself as a person should see it: status 125 (docker's) and exactly one line
// on stderr.
void check_one_line_failure(const CommandResult& r);
// `hutch inspect NAME`'s one record, parsed (REQUIREs that there is one).
nlohmann::json inspect(const TempDir& root, const std::string& name);
// `hutch images --format json`, parsed.
nlohmann::json images_json(const TempDir& root);

// A busybox image (the test run's busybox rootfs as its one layer) whose config's "config"
// object is run_config, written as an OCI layout.
TestImage busybox_image(const nlohmann::json& run_config);

// Removes, when it goes out of scope, every container of the `hutch` command under root (rm -f),
// then whatever the command left mounted there: no container process, overlay mount or
// runtime state outlives a test, passed or failed.
class ContainerSweeper {
public:
    explicit ContainerSweeper(const TempDir& root) : root_(root) {}
    ~ContainerSweeper();
    ContainerSweeper(const ContainerSweeper&) = delete;
    ContainerSweeper& operator=(const ContainerSweeper&) = delete;

private:
    const TempDir& root_;
};

}  // namespace hutch::test
