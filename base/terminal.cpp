#include "base/terminal.h"

#include <unistd.h>

namespace hutch {

RawTerminal::RawTerminal() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
}

std::optional<winsize> caller_window_size() {
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0 || ::ioctl(1, TIOCGWINSZ, &ws) == 0) return ws;
    return std::nullopt;
}

}  // namespace hutch
