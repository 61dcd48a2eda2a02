// Container log records (container_log.h).
#include "cli/hutch/container_log.h"

#include <deque>
#include <vector>

#include "base/file.h"
#include "base/timestamp.h"

namespace hutch::cli {

void LogStreamWriter::record(std::string_view content, char tag) {
    std::string line = rfc3339_now(true) + " " + stream_ + " " + tag + " ";
    line.append(content);
    line.push_back('\n');
    // A full disk loses log lines, never the container: the error has nowhere better to go.
    (void)write_all(log_fd_, line);
}

void LogStreamWriter::write(std::string_view data) {
    while (!data.empty()) {
        size_t newline = data.find('\n');
        if (newline == std::string_view::npos) {
            partial_.append(data);
            if (partial_.size() >= kMaxPartial) {
                record(partial_, 'P');
                partial_.clear();
            }
            return;
        }
        partial_.append(data.substr(0, newline));
        record(partial_, 'F');
        partial_.clear();
        data.remove_prefix(newline + 1);
    }
}

void LogStreamWriter::finish() {
    if (!partial_.empty()) record(partial_, 'P');
    partial_.clear();
}

namespace {

struct Record {
    std::string_view timestamp, stream, content;
    bool whole;
};

bool parse_record(std::string_view line, Record& out) {
    size_t a = line.find(' ');
    size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || b + 2 > line.size()) return false;
    char tag = line[b + 1];
    if ((tag != 'F' && tag != 'P') || (b + 2 < line.size() && line[b + 2] != ' ')) return false;
    out.timestamp = line.substr(0, a);
    out.stream = line.substr(a + 1, b - a - 1);
    out.content = b + 3 <= line.size() ? line.substr(b + 3) : std::string_view();
    out.whole = tag == 'F';
    return out.stream == "stdout" || out.stream == "stderr";
}

}  // namespace

void replay_log(std::string_view text, const LogReadOptions& options,
                const std::function<void(std::string_view stream, std::string_view bytes)>& out) {
    std::vector<Record> records;
    while (!text.empty()) {
        size_t newline = text.find('\n');
        // A record still being written has no newline yet: it is read next time.
        if (newline == std::string_view::npos) break;
        Record r;
        if (parse_record(text.substr(0, newline), r)) records.push_back(r);
        text.remove_prefix(newline + 1);
    }
    size_t first = 0;
    if (options.tail >= 0) {
        // Back from the end, counting whole lines (a line may span several records).
        long lines = 0;
        first = records.size();
        while (first > 0 && (!records[first - 1].whole || lines < options.tail)) {
            if (records[first - 1].whole) ++lines;
            --first;
        }
    }
    bool line_start = true;
    for (size_t i = first; i < records.size(); ++i) {
        const Record& r = records[i];
        std::string bytes;
        if (options.timestamps && line_start) bytes.append(r.timestamp).push_back(' ');
        bytes.append(r.content);
        if (r.whole) bytes.push_back('\n');
        line_start = r.whole;
        out(r.stream, bytes);
    }
}

}  // namespace hutch::cli
