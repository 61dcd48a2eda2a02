// hutch login: podman's flags and file (images/registry_auth.h). The credentials are tried on the
// registry before they are saved, so a typo is reported now rather than at the next pull.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "base/file.h"
#include "cli/hutch/verbs.h"
#include "images/registry_auth.h"
#include "images/registry_client.h"

namespace hutch::cli {
namespace {

// Echo off on the terminal while a password is typed, back on when dropped.
class NoEcho {
public:
    NoEcho() : saved_ok_(tcgetattr(STDIN_FILENO, &saved_) == 0) {
        if (!saved_ok_) return;
        termios quiet = saved_;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    ~NoEcho() {
        if (saved_ok_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    }
    NoEcho(const NoEcho&) = delete;
    NoEcho& operator=(const NoEcho&) = delete;

private:
    termios saved_{};
    bool saved_ok_;
};

std::string without_final_newline(std::string text) {
    if (text.ends_with('\n')) text.pop_back();
    if (text.ends_with('\r')) text.pop_back();
    return text;
}

// A line typed on the terminal, after prompt on stderr.
ErrorOr<std::string> ask(const char* prompt, bool secret) {
    if (isatty(STDIN_FILENO) != 1) return fail(std::string(prompt) + " needed, and stdin is not a terminal");
    std::fprintf(stderr, "%s: ", prompt);
    std::string line;
    {
        std::optional<NoEcho> quiet;
        if (secret) quiet.emplace();
        std::getline(std::cin, line);
    }
    if (secret) std::fprintf(stderr, "\n");
    return line;
}

ErrorOr<images::Credentials> credentials_of(const LoginOptions& options) {
    if (options.password && options.password_stdin) return fail("--password and --password-stdin: give one");
    images::Credentials credentials;
    credentials.username = options.username.empty() ? TRY(ask("Username", false)) : options.username;
    if (options.password)
        credentials.password = *options.password;
    else if (options.password_stdin)
        credentials.password = without_final_newline(TRY_CTX(read_all(STDIN_FILENO), "stdin"));
    else
        credentials.password = TRY(ask("Password", true));
    if (credentials.username.empty()) return fail("the username is empty");
    if (credentials.username.find(':') != std::string::npos) return fail("a username cannot hold ':'");
    return credentials;
}

}  // namespace

ErrorOr<void> login(const LoginOptions& options) {
    std::string registry = images::registry_of_auth_key(options.registry);
    auto credentials = TRY(credentials_of(options));
    images::RegistryOptions registry_options{
        .insecure_registries = {}, .auth_file = "", .credentials = credentials};
    if (!options.tls_verify) registry_options.insecure_registries.push_back(registry);
    auto client = TRY(images::RegistryClient::create(registry, registry_options));
    TRY(client.check_access());
    std::string auth_file = options.auth_file.empty() ? images::default_auth_file() : options.auth_file;
    TRY(images::save_credentials(auth_file, registry, credentials));
    std::printf("Login Succeeded!\n");
    return {};
}

}  // namespace hutch::cli
