// A token server on 127.0.0.1 for docker-registry's token auth (the distribution project's token
// spec), so that the registry client's Bearer flow meets a real registry. It answers
// GET /token?service=..&scope=.. with a JWT signed (RS256) by a key made for the test, whose
// self-signed certificate the registry trusts (rootcertbundle) and which rides in the token's
// x5c header, the way registry 2.8 finds the signing key. Right Basic credentials get the scopes
// asked for; no credentials get a token that grants nothing (as Docker Hub answers for a private
// repository); wrong ones get 401. It runs on a thread of the test, so a test reads the requests
// it saw directly; the destructor stops and joins it, passed or failed.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "harness.h"

namespace hutch::test {

class TokenServer {
public:
    struct Options {
        std::string user;
        std::string password;
    };
    // What a client asked for.
    struct Request {
        std::string user = {};  // "" when it sent no credentials
        bool granted = false;
        std::string service = {};
        std::vector<std::string> scopes = {};  // "repository:NAME:ACTIONS", as sent
    };
    // What a registry needs to trust the tokens (its auth: token: section).
    struct RegistryAuth {
        std::string realm, service, issuer, certificate_file;
    };

    // Makes the key and certificate and starts listening; a REQUIRE fails otherwise.
    explicit TokenServer(Options options);
    ~TokenServer();
    TokenServer(const TokenServer&) = delete;
    TokenServer& operator=(const TokenServer&) = delete;

    RegistryAuth registry_auth() const;
    std::vector<Request> requests() const;
    void forget_requests();

private:
    void serve();
    void answer(int connection);
    std::string token_for(const Request& request) const;

    TempDir dir_{"hutch-token-server"};
    Options options_;
    struct KeyDeleter {
        void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
    };
    std::unique_ptr<EVP_PKEY, KeyDeleter> key_;
    std::string certificate_der_;  // in the x5c header of every token
    UniqueFd listener_;
    UniqueFd stop_read_, stop_write_;  // a byte written here ends serve()
    int port_ = 0;
    mutable std::mutex mutex_;
    std::vector<Request> requests_;
    std::thread thread_;
};

}  // namespace hutch::test
