// The container lifecycle, one function per runc verb. cli/ parses flags and calls these.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/container.h"

namespace hutch::runtime {

struct CreateOptions {
    std::string root;  // --root: where container state lives
    std::string id;
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    int preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
};

ErrorOr<void> create(const CreateOptions& options);
ErrorOr<void> start(const std::string& root, const std::string& id);
// create + start; in the foreground, waits and returns the exit status (128+signal when killed),
// forwarding signals and, with a terminal and no console socket, the caller's terminal.
ErrorOr<int> run(const CreateOptions& options, bool detach);
ErrorOr<std::string> state(const std::string& root, const std::string& id);
ErrorOr<void> kill(const std::string& root, const std::string& id, int signal, bool all);
ErrorOr<void> remove(const std::string& root, const std::string& id, bool force);
// runc's fields for every container under root, sorted by id.
ErrorOr<std::vector<nlohmann::ordered_json>> list(const std::string& root);

// "TERM", "SIGTERM", "15" -> 15.
ErrorOr<int> parse_signal(const std::string& text);

}  // namespace hutch::runtime
