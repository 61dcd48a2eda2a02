// Running the `hutch` binary as a person does, with a --storage-root of the test's own, and what
// its answers must look like. For the hutch_*_test.cpp files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.h"

namespace hutch::test {

// hutch --storage-root ROOT/storage ARGS...
CommandResult hutch_cmd(const TempDir& root, std::vector<std::string> args,
                        const std::string& stdin_data = "");
// REQUIREs status 0, showing stdout and stderr otherwise.
void check_ok(const CommandResult& r);
// A failure as a person should see it: status 1 and exactly one line on stderr.
void check_one_line_failure(const CommandResult& r);
// `hutch images --format json`, parsed.
nlohmann::json images_json(const TempDir& root);

}  // namespace hutch::test
