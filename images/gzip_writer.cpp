#include "images/gzip_writer.h"

namespace hutch::images {
namespace {

constexpr size_t kOutputBuffer = 256 * 1024;

}  // namespace

GzipWriter::GzipWriter(Sink sink)
    : sink_(std::move(sink)), level_buffer_(ISAL_DEF_LVL1_DEFAULT), output_(kOutputBuffer) {
    isal_deflate_init(&stream_);
    stream_.level = 1;
    stream_.level_buf = level_buffer_.data();
    stream_.level_buf_size = static_cast<uint32_t>(level_buffer_.size());
    stream_.gzip_flag = IGZIP_GZIP;
    stream_.flush = NO_FLUSH;
}

ErrorOr<std::unique_ptr<GzipWriter>> GzipWriter::create(Sink sink) {
    return std::unique_ptr<GzipWriter>(new GzipWriter(std::move(sink)));
}

ErrorOr<void> GzipWriter::deflate_all(bool end) {
    stream_.end_of_stream = end ? 1 : 0;
    for (;;) {
        stream_.next_out = reinterpret_cast<uint8_t*>(output_.data());
        stream_.avail_out = static_cast<uint32_t>(output_.size());
        int status = isal_deflate(&stream_);
        if (status != COMP_OK) return fail("gzip: igzip deflate failed (" + std::to_string(status) + ")");
        size_t produced = output_.size() - stream_.avail_out;
        if (produced > 0) TRY(sink_(std::span(output_.data(), produced)));
        bool done =
            end ? stream_.internal_state.state == ZSTATE_END : stream_.avail_in == 0 && stream_.avail_out > 0;
        if (done) return {};
    }
}

ErrorOr<void> GzipWriter::write(std::span<const std::byte> data) {
    // isal_deflate takes a non-const pointer but only reads the input.
    stream_.next_in = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(data.data()));
    stream_.avail_in = static_cast<uint32_t>(data.size());
    return deflate_all(false);
}

ErrorOr<void> GzipWriter::finish() {
    stream_.next_in = nullptr;
    stream_.avail_in = 0;
    return deflate_all(true);
}

}  // namespace hutch::images
