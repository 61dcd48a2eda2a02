#include "images/www_authenticate.h"

#include <cctype>

namespace hutch::images {
namespace {

// A header longer than this is not a challenge worth reading (real ones are under 300 bytes).
constexpr size_t kMaxHeader = 8192;

// RFC 9110 tchar.
bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token68_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~+/").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A cursor over the header: each step consumes what it recognises and leaves the rest.
class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }
    size_t pos() const { return pos_; }
    void seek(size_t pos) { pos_ = pos; }
    void skip_spaces() {
        while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    }
    bool consume(char c) {
        if (peek() != c || at_end()) return false;
        ++pos_;
        return true;
    }
    std::string_view token() {
        size_t start = pos_;
        while (!at_end() && is_tchar(text_[pos_])) ++pos_;
        return text_.substr(start, pos_ - start);
    }
    // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    std::string_view token68() {
        size_t start = pos_;
        while (!at_end() && is_token68_char(text_[pos_])) ++pos_;
        if (pos_ == start) return {};
        while (!at_end() && text_[pos_] == '=') ++pos_;
        return text_.substr(start, pos_ - start);
    }
    // A quoted-string, the opening quote already consumed: backslash escapes the next character.
    ErrorOr<std::string> quoted_rest() {
        std::string value;
        while (!at_end()) {
            char c = text_[pos_++];
            if (c == '"') return value;
            if (c == '\\') {
                if (at_end()) break;
                c = text_[pos_++];
            }
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                return fail("control character in a quoted value");
            value += c;
        }
        return fail("unterminated quoted value");
    }

private:
    std::string_view text_;
    size_t pos_ = 0;
};

// Skips the list separators (commas and blanks; RFC 9110 allows empty list elements).
void skip_separators(Scanner& s) {
    for (;;) {
        s.skip_spaces();
        if (!s.consume(',')) return;
    }
}

// After a scheme: either auth-params (name=value, comma-separated) or one token68. Stops before
// the next challenge, which begins with a token that no '=' follows.
ErrorOr<void> parse_params(Scanner& s, AuthChallenge& challenge) {
    for (;;) {
        skip_separators(s);
        if (s.at_end()) return {};
        size_t start = s.pos();
        std::string_view name = s.token();
        s.skip_spaces();
        if (name.empty() || !s.consume('=')) {
            s.seek(start);
            if (challenge.params.empty() && challenge.token68.empty()) {
                // Maybe a token68 ("Negotiate abc=="): it must then end the challenge.
                std::string_view t68 = s.token68();
                s.skip_spaces();
                if (!t68.empty() && (s.at_end() || s.peek() == ',')) {
                    challenge.token68 = std::string(t68);
                    continue;
                }
                s.seek(start);
            }
            if (name.empty())
                return fail("unexpected character '" + std::string(1, s.peek()) + "' at offset " +
                            std::to_string(start));
            return {};  // the next challenge's scheme
        }
        if (!challenge.token68.empty()) return fail("parameters after a token68");
        s.skip_spaces();
        std::string value;
        if (s.consume('"')) {
            value = TRY(s.quoted_rest());
        } else {
            value = std::string(s.token());
            if (value.empty()) return fail("parameter \"" + std::string(name) + "\" has no value");
        }
        if (!challenge.params.emplace(lowercase(name), std::move(value)).second)
            return fail("parameter \"" + lowercase(name) + "\" given twice");
        s.skip_spaces();
        if (!s.at_end() && s.peek() != ',')
            return fail("expected ',' after parameter \"" + std::string(name) + "\"");
    }
}

}  // namespace

ErrorOr<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header) {
    auto parse = [&]() -> ErrorOr<std::vector<AuthChallenge>> {
        if (header.size() > kMaxHeader) return fail("longer than " + std::to_string(kMaxHeader) + " bytes");
        std::vector<AuthChallenge> challenges;
        Scanner s(header);
        for (;;) {
            skip_separators(s);
            if (s.at_end()) break;
            std::string_view scheme = s.token();
            if (scheme.empty())
                return fail("expected an authentication scheme at offset " + std::to_string(s.pos()));
            AuthChallenge challenge{lowercase(scheme), {}, {}};
            if (!s.at_end() && s.peek() != ' ' && s.peek() != '\t' && s.peek() != ',')
                return fail("unexpected character after scheme \"" + std::string(scheme) + "\"");
            TRY(parse_params(s, challenge));
            challenges.push_back(std::move(challenge));
        }
        if (challenges.empty()) return fail("no challenge");
        return challenges;
    };
    return map_error(parse(), [](const Error& e) { return e.context("WWW-Authenticate"); });
}

}  // namespace hutch::images
