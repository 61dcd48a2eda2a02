// The challenges of a WWW-Authenticate header (RFC 9110 section 11.6.1), as registries send them:
// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"` or
// `Basic realm="Registry"`. The header comes from the server, so the parser takes any bytes and
// either returns challenges or a one-line error; it never reads past the text.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::images {

struct AuthChallenge {
    std::string scheme;                         // lowercase: "bearer", "basic"
    std::map<std::string, std::string> params;  // names lowercase, values unquoted
    std::string token68;  // the other form of credentials ("Negotiate abc=="), rarely used

    // A parameter's value, "" when absent.
    std::string param(const std::string& name) const {
        auto it = params.find(name);
        return it == params.end() ? std::string() : it->second;
    }
};

// Parses a header value holding one or more comma-separated challenges.
ErrorOr<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header);

}  // namespace hutch::images
