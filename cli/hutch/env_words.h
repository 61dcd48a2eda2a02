// The environment given on the `hutch` command line (`run -e`, `--env-file`, `exec -e`), with
// docker's rules for a word without a value.
#pragma once

#include <string>
#include <vector>

namespace hutch::cli {

// NAME=VALUE replaces NAME's entry in env; a bare NAME takes the caller's value, and is left out
// when the caller has none.
void add_env_word(std::vector<std::string>& env, const std::string& word);

}  // namespace hutch::cli
