// The runtime's log: --log FILE and --log-format text|json, as runc writes them.
// containerd reads the JSON lines ({"level","msg","time"}) to report a runtime's errors.
#pragma once

#include <string>

namespace hutch::log {

enum class Level { debug, info, warning, error };
enum class Format { text, json };

// Opens the log file (append). Without a file, messages go to stderr (errors and warnings; all
// with debug).
void configure(const std::string& path, Format format, bool debug);
void write(Level level, const std::string& message);
inline void debug(const std::string& m) { write(Level::debug, m); }
inline void info(const std::string& m) { write(Level::info, m); }
inline void warn(const std::string& m) { write(Level::warning, m); }
inline void error(const std::string& m) { write(Level::error, m); }

}  // namespace hutch::log
