// Environment words of the command line (env_words.h).
#include "cli/hutch/env_words.h"

#include <cstdlib>

namespace hutch::cli {
namespace {

void set_env(std::vector<std::string>& env, const std::string& entry) {
    std::string name = entry.substr(0, entry.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == name; });
    env.push_back(entry);
}

}  // namespace

void add_env_word(std::vector<std::string>& env, const std::string& word) {
    if (word.find('=') != std::string::npos) return set_env(env, word);
    if (const char* value = std::getenv(word.c_str())) set_env(env, word + "=" + value);
}

}  // namespace hutch::cli
