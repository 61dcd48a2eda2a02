#include "images/http_client.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

namespace hutch::images {
namespace {

// Headers of a real answer fit in a few KiB; a server sending more is broken or hostile.
constexpr size_t kMaxHeaderBytes = 64 * 1024;
// What is kept of an error body: enough for a registry's JSON error.
constexpr size_t kMaxErrorBody = 4096;
// Body bytes held between curl and the reader; past this the transfer pauses until read.
constexpr size_t kMaxPending = 1 << 20;
constexpr long kConnectTimeoutS = 10;
// A transfer slower than 1 byte/s for 30 s is given up.
constexpr long kLowSpeedBytes = 1;
constexpr long kLowSpeedTimeS = 30;
constexpr long kMaxRedirects = 5;

// curl_global_init is not safe to race with other threads' curl calls: done once, up front.
ErrorOr<void> global_init() {
    static std::once_flag once;
    static CURLcode code = CURLE_OK;
    std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (code != CURLE_OK) return fail(std::string("curl_global_init: ") + curl_easy_strerror(code));
    return {};
}

std::string trim(std::string_view text) {
    size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    size_t end = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(start, end - start + 1));
}

// A registry's error body ({"errors":[{"code":"...","message":"..."}]}) as "CODE: message";
// any other body as its first line.
std::string summarize_error_body(const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_object() && json.contains("errors") && json["errors"].is_array() && !json["errors"].empty()) {
        const auto& first = json["errors"][0];
        std::string code, message;
        if (first.is_object() && first.contains("code") && first["code"].is_string())
            code = first["code"].get<std::string>();
        if (first.is_object() && first.contains("message") && first["message"].is_string())
            message = first["message"].get<std::string>();
        if (!code.empty() || !message.empty())
            return one_line(code + (message.empty() ? "" : ": " + message));
    }
    return one_line(trim(body));
}

}  // namespace

std::string one_line(std::string_view text, size_t max) {
    std::string out;
    for (char c : text.substr(0, max)) {
        unsigned char u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (text.size() > max) out += "...";
    return out;
}

ErrorOr<std::unique_ptr<HttpStream>> HttpStream::start(const HttpRequest& request) {
    TRY(global_init());
    std::unique_ptr<HttpStream> s(new HttpStream());
    s->url_ = request.url;
    s->max_body_ = request.max_body;
    s->multi_.reset(curl_multi_init());
    s->easy_.reset(curl_easy_init());
    if (!s->multi_ || !s->easy_) return fail("GET " + request.url + ": curl init failed");
    for (const auto& h : request.headers) {
        curl_slist* grown = curl_slist_append(s->headers_list_.get(), h.c_str());
        if (!grown) return fail("GET " + request.url + ": out of memory");
        static_cast<void>(s->headers_list_.release());
        s->headers_list_.reset(grown);
    }
    CURL* e = s->easy_.get();
    const char* protocols = request.allow_plain_http ? "http,https" : "https";
    bool ok = curl_easy_setopt(e, CURLOPT_URL, request.url.c_str()) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers_list_.get()) == CURLE_OK &&
              // A custom Authorization header goes to the first host only: curl drops it when a
              // redirect leads to another host or port (CURLOPT_UNRESTRICTED_AUTH stays off).
              curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_MAXREDIRS, kMaxRedirects) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, kLowSpeedTimeS) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_TIMEOUT, request.total_timeout_s) == CURLE_OK &&
              // Signals are the process's own business; curl must not use SIGALRM for timeouts.
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_USERAGENT, "hutch/0.1") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_error_) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpStream::on_header) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HEADERDATA, s.get()) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpStream::on_body) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEDATA, s.get()) == CURLE_OK;
    if (!ok) return fail("GET " + request.url + ": curl refused an option (libcurl older than 7.85?)");
    if (curl_multi_add_handle(s->multi_.get(), e) != CURLM_OK)
        return fail("GET " + request.url + ": curl_multi_add_handle");
    return s;
}

HttpStream::~HttpStream() {
    if (multi_ && easy_) curl_multi_remove_handle(multi_.get(), easy_.get());
}

size_t HttpStream::on_header(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<HttpStream*>(self_ptr);
    size_t n = size * count;
    self->header_bytes_ += n;
    if (self->header_bytes_ > kMaxHeaderBytes) {
        self->header_overflow_ = true;
        return 0;  // aborts the transfer
    }
    std::string_view line(data, n);
    // Each answer (a redirect, then the final one) starts with its status line: keep only the last's.
    if (line.starts_with("HTTP/")) {
        self->headers_.clear();
        return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name = trim(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = trim(line.substr(colon + 1));
    auto [it, inserted] = self->headers_.emplace(name, value);
    if (!inserted) it->second += ", " + value;
    return n;
}

size_t HttpStream::on_body(char* data, size_t size, size_t count, void* self_ptr) {
    return static_cast<HttpStream*>(self_ptr)->take_body(data, size * count);
}

size_t HttpStream::take_body(const char* data, size_t size) {
    long code = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
        if (pending_.size() - pending_offset_ >= kMaxPending) {
            paused_ = true;
            return CURL_WRITEFUNC_PAUSE;  // curl keeps these bytes and hands them over again later
        }
        body_bytes_ += size;
        // Checked as the bytes come, not by Content-Length: a chunked answer has none.
        if (max_body_ > 0 && body_bytes_ > max_body_) {
            body_overflow_ = true;
            return 0;  // aborts the transfer
        }
        pending_.append(data, size);
        return size;
    }
    if (code >= 300 && code < 400) return size;  // a redirect's body: curl follows the Location
    size_t room = kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size());
    error_body_.append(data, std::min(room, size));
    // Enough of an error body is kept: stop the transfer instead of reading an endless one.
    return error_body_.size() >= kMaxErrorBody ? 0 : size;
}

ErrorOr<void> HttpStream::step() {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_.get(), &running);
    if (mc != CURLM_OK) return fail("GET " + url_ + ": " + curl_multi_strerror(mc));
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
        if (msg->msg == CURLMSG_DONE) {
            done_ = true;
            result_ = msg->data.result;
        }
    }
    if (done_ || pending_offset_ < pending_.size()) return {};
    mc = curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr);
    if (mc != CURLM_OK) return fail("GET " + url_ + ": " + curl_multi_strerror(mc));
    return {};
}

ErrorOr<size_t> HttpStream::read(std::span<std::byte> buffer) {
    for (;;) {
        if (pending_offset_ < pending_.size()) {
            size_t n = std::min(buffer.size(), pending_.size() - pending_offset_);
            std::memcpy(buffer.data(), pending_.data() + pending_offset_, n);
            pending_offset_ += n;
            if (pending_offset_ == pending_.size()) pending_.clear(), pending_offset_ = 0;
            return n;
        }
        if (done_) break;
        if (paused_) {
            paused_ = false;
            // May call on_body at once with the held bytes.
            CURLcode rc = curl_easy_pause(easy_.get(), CURLPAUSE_CONT);
            if (rc != CURLE_OK) return fail("GET " + url_ + ": " + curl_easy_strerror(rc));
            continue;
        }
        TRY(step());
    }
    curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status_);
    if (header_overflow_) return fail("GET " + url_ + ": response headers larger than 64 KiB");
    bool error_body_cut = result_ == CURLE_WRITE_ERROR && error_body_.size() >= kMaxErrorBody;
    if (body_overflow_)
        return fail("GET " + url_ + ": answer larger than " + std::to_string(max_body_) + " bytes");
    if (result_ != CURLE_OK && !error_body_cut) {
        std::string detail = curl_error_[0] ? curl_error_ : curl_easy_strerror(result_);
        return fail("GET " + url_ + ": " + one_line(detail));
    }
    return 0;
}

std::string HttpStream::header(const std::string& name) const {
    auto it = headers_.find(name);
    return it == headers_.end() ? std::string() : it->second;
}

std::string HttpStream::describe_status() const {
    std::string text = "HTTP " + std::to_string(status_);
    std::string said = summarize_error_body(error_body_);
    return said.empty() ? text : text + " (" + said + ")";
}

ErrorOr<HttpResponse> http_get(const HttpRequest& request) {
    auto stream = TRY(HttpStream::start(request));
    HttpResponse response;
    std::byte buffer[16384];
    for (;;) {
        size_t n = TRY(stream->read(buffer));
        if (n == 0) break;
        response.body.append(reinterpret_cast<const char*>(buffer), n);
    }
    response.status = stream->status();
    response.headers = stream->headers();
    response.status_text = stream->describe_status();
    return response;
}

}  // namespace hutch::images
