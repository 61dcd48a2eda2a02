// Fallible calls return ErrorOr<T>: a value, or an Error that says what failed and why.
// TRY(expr) unwraps the value or returns the error to the caller, so syscall-heavy code
// reads straight down (the pattern of SerenityOS's AK/Try.h, built on std::expected).
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace hutch {

struct Error {
    std::string message;
    int code = 0;  // errno when the failure came from the kernel, else 0

    // "what: strerror(errno)" for a failed syscall.
    static Error from_errno(std::string what, int err = errno) {
        return Error{std::move(what) + ": " + std::strerror(err), err};
    }
    static Error with_message(std::string what) { return Error{std::move(what), 0}; }

    // Prefixes context, so errors read outermost-first: "config.json: process.args: ...".
    Error context(const std::string& outer) const& { return Error{outer + ": " + message, code}; }
};

template <typename T = void>
using ErrorOr = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
    return std::unexpected(Error::with_message(std::move(message)));
}
inline std::unexpected<Error> fail_errno(std::string what, int err = errno) {
    return std::unexpected(Error::from_errno(std::move(what), err));
}

// Rewrites the error of a failed result (g++ 12's std::expected has no transform_error yet).
template <typename T, typename F>
ErrorOr<T> map_error(ErrorOr<T>&& result, F&& rewrite) {
    if (result) return std::move(result);
    return std::unexpected(rewrite(result.error()));
}

}  // namespace hutch

// Unwraps an ErrorOr or returns its error from the enclosing function (GNU statement expression).
#define TRY(expr)                                                      \
    ({                                                                 \
        auto&& _try_result = (expr);                                   \
        if (!_try_result) return std::unexpected(_try_result.error()); \
        std::move(_try_result).value();                                \
    })

// Like TRY, but prefixes the error with context first.
#define TRY_CTX(expr, ctx)                                                          \
    ({                                                                              \
        auto&& _try_result = (expr);                                                \
        if (!_try_result) return std::unexpected(_try_result.error().context(ctx)); \
        std::move(_try_result).value();                                             \
    })

// Returns a syscall failure with errno as an Error, for calls that return -1 on failure.
#define TRY_SYS(call, what)                                      \
    ({                                                           \
        auto _sys_result = (call);                               \
        if (_sys_result == -1) return ::hutch::fail_errno(what); \
        _sys_result;                                             \
    })
