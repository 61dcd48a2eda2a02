// GET over HTTP(S) with libcurl, for the registry client: a body either collected whole (small
// documents: manifests, tokens) or streamed piece by piece as the caller reads it (blobs, which
// go straight into the content store), never buffered whole. Every transfer has a connect
// timeout and a low-speed limit, caps what it keeps of headers and error bodies, and follows
// redirects (blob storage often lives elsewhere) without leaving the protocols allowed.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace hutch::images {

struct HttpRequest {
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    // Redirects may go to plain http:// (an insecure or loopback registry); else https:// only.
    bool allow_plain_http = false;
    // The most bytes accepted of a 2xx body; a longer one fails the transfer. 0: no limit (a
    // blob's reader checks the size itself: the content store stops at the first byte too many).
    uint64_t max_body = 4 << 20;
    // A limit on the whole transfer in seconds (0: none, for blobs of any size; the low-speed
    // limit still stops a stalled one).
    long total_timeout_s = 0;
};

// A transfer in progress. read() moves it forward and hands out the body of a 2xx answer; the
// body of any other status is kept (the first few KiB) for the error message instead.
class HttpStream {
public:
    static ErrorOr<std::unique_ptr<HttpStream>> start(const HttpRequest& request);
    ~HttpStream();
    HttpStream(const HttpStream&) = delete;
    HttpStream& operator=(const HttpStream&) = delete;

    // Fills buffer with the next bytes of a 2xx body; 0 once the transfer is over (whatever the
    // status: check status() then). Fails on a transport error (refused, reset, timed out).
    ErrorOr<size_t> read(std::span<std::byte> buffer);
    // The final answer's status (after redirects), once read() returned 0.
    long status() const { return status_; }
    // A header of the final answer (name lowercase; repeated headers joined by ", "), "" if absent.
    std::string header(const std::string& name) const;
    const std::map<std::string, std::string>& headers() const { return headers_; }
    // "HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)": the status and what the server said.
    std::string describe_status() const;

private:
    struct CurlDeleter {
        void operator()(CURL* c) const { curl_easy_cleanup(c); }
    };
    struct MultiDeleter {
        void operator()(CURLM* m) const { curl_multi_cleanup(m); }
    };
    struct SlistDeleter {
        void operator()(curl_slist* l) const { curl_slist_free_all(l); }
    };
    HttpStream() = default;
    static size_t on_header(char* data, size_t size, size_t count, void* self);
    static size_t on_body(char* data, size_t size, size_t count, void* self);
    size_t take_body(const char* data, size_t size);
    // One step of the transfer: lets curl work, then waits a little for the socket.
    ErrorOr<void> step();

    std::unique_ptr<CURLM, MultiDeleter> multi_;
    std::unique_ptr<CURL, CurlDeleter> easy_;
    std::unique_ptr<curl_slist, SlistDeleter> headers_list_;
    std::string url_;
    std::map<std::string, std::string> headers_;
    size_t header_bytes_ = 0;
    bool header_overflow_ = false;
    std::string pending_;  // body bytes received, not yet read: at most about kMaxPending
    size_t pending_offset_ = 0;
    uint64_t max_body_ = 0;
    uint64_t body_bytes_ = 0;
    bool body_overflow_ = false;
    bool paused_ = false;
    std::string error_body_;
    bool done_ = false;
    CURLcode result_ = CURLE_OK;
    long status_ = 0;
    char curl_error_[CURL_ERROR_SIZE] = {};
};

// A whole answer: status, headers of the final answer, and body (of a 2xx; else the first KiB
// of the error body).
struct HttpResponse {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;
    std::string status_text;  // describe_status()
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// Runs a request to its end and collects the body (at most request.max_body bytes).
ErrorOr<HttpResponse> http_get(const HttpRequest& request);

// Text from a server made safe for a one-line message: control bytes become '?', and at most
// max characters are kept.
std::string one_line(std::string_view text, size_t max = 200);

}  // namespace hutch::images
