#include "images/layer_stream.h"

#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace hutch::images {
namespace {

constexpr size_t kInputBuffer = 256 * 1024;
constexpr std::array<std::byte, 2> kGzipMagic{std::byte{0x1f}, std::byte{0x8b}};
constexpr std::array<std::byte, 4> kZstdMagic{std::byte{0x28}, std::byte{0xb5}, std::byte{0x2f},
                                              std::byte{0xfd}};

const char* name_of(Compression c) {
    switch (c) {
        case Compression::none: return "uncompressed";
        case Compression::gzip: return "gzip";
        case Compression::zstd: return "zstd";
    }
    return "?";
}

bool starts_with(std::span<const std::byte> data, std::span<const std::byte> magic) {
    return data.size() >= magic.size() && std::equal(magic.begin(), magic.end(), data.begin());
}

// A tar read as it is.
class PlainStream final : public LayerStream {
public:
    PlainStream(int fd, Hasher hasher) : LayerStream(fd, std::move(hasher)) {}

protected:
    ErrorOr<size_t> decode(std::span<std::byte> buffer) override { return read_raw(buffer); }
};

// gzip through ISA-L's streaming inflate. A gzip file may hold several members one after the
// other (pigz and `cat a.gz b.gz` make them); each is inflated in turn, as gzip -d does.
class GzipStream final : public LayerStream {
public:
    GzipStream(int fd, Hasher hasher) : LayerStream(fd, std::move(hasher)), input_(kInputBuffer) {
        state_ = std::make_unique<inflate_state>();
        start_member();
    }

protected:
    ErrorOr<size_t> decode(std::span<std::byte> buffer) override {
        for (;;) {
            if (state_->block_state == ISAL_BLOCK_FINISH) {
                // One member done: the stream ends here unless another member follows.
                if (state_->avail_in == 0 && !TRY(refill())) return 0;
                start_member();
            }
            if (state_->avail_in == 0 && !TRY(refill()))
                return fail("gzip: the compressed stream ends before its end marker");
            state_->next_out = reinterpret_cast<uint8_t*>(buffer.data());
            state_->avail_out = static_cast<uint32_t>(std::min<size_t>(buffer.size(), UINT32_MAX));
            int rc = isal_inflate(state_.get());
            if (rc != ISAL_DECOMP_OK)
                return fail("gzip: corrupt data (isal_inflate error " + std::to_string(rc) + ")");
            size_t produced = buffer.size() - state_->avail_out;
            if (produced > 0) return produced;
        }
    }

private:
    void start_member() {
        // isal_inflate_init clears next_in/avail_in: keep the bytes of the next member.
        uint8_t* next = state_->next_in;
        uint32_t avail = state_->avail_in;
        isal_inflate_init(state_.get());
        state_->crc_flag = ISAL_GZIP;  // parse the gzip header, check the CRC32 and length trailer
        state_->next_in = next;
        state_->avail_in = avail;
    }
    // Reads more compressed input; false at the end of the file.
    ErrorOr<bool> refill() {
        size_t n = TRY(read_raw(input_));
        state_->next_in = reinterpret_cast<uint8_t*>(input_.data());
        state_->avail_in = static_cast<uint32_t>(n);
        return n > 0;
    }

    std::vector<std::byte> input_;
    std::unique_ptr<inflate_state> state_;  // about 80 KiB: on the heap
};

// zstd through libzstd's streaming decompressor (which reads concatenated frames by itself).
class ZstdStream final : public LayerStream {
public:
    ZstdStream(int fd, Hasher hasher, ZSTD_DCtx* ctx)
        : LayerStream(fd, std::move(hasher)), input_(ZSTD_DStreamInSize()), ctx_(ctx) {}

protected:
    ErrorOr<size_t> decode(std::span<std::byte> buffer) override {
        for (;;) {
            if (in_.pos == in_.size) {
                size_t n = TRY(read_raw(input_));
                if (n == 0) {
                    if (frame_open_) return fail("zstd: the compressed stream ends inside a frame");
                    return 0;
                }
                in_ = ZSTD_inBuffer{input_.data(), n, 0};
            }
            ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
            size_t rc = ZSTD_decompressStream(ctx_.get(), &out, &in_);
            if (ZSTD_isError(rc)) return fail(std::string("zstd: ") + ZSTD_getErrorName(rc));
            frame_open_ = rc != 0;  // 0: a frame has just been completely decoded and flushed
            if (out.pos > 0) return out.pos;
        }
    }

private:
    struct FreeCtx {
        void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
    };
    std::vector<std::byte> input_;
    ZSTD_inBuffer in_{nullptr, 0, 0};
    bool frame_open_ = false;
    std::unique_ptr<ZSTD_DCtx, FreeCtx> ctx_;
};

// Reads up to n bytes, fewer only at the end of the file.
ErrorOr<std::vector<std::byte>> read_head(int fd, size_t n) {
    std::vector<std::byte> head(n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::read(fd, head.data() + got, n - got);
        if (r == 0) break;
        if (r == -1) {
            if (errno == EINTR) continue;
            return fail_errno("layer: read");
        }
        got += static_cast<size_t>(r);
    }
    head.resize(got);
    return head;
}

}  // namespace

std::string_view oci_layer_media_type(Compression compression) {
    switch (compression) {
        case Compression::gzip: return "application/vnd.oci.image.layer.v1.tar+gzip";
        case Compression::zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
        case Compression::none: break;
    }
    return "application/vnd.oci.image.layer.v1.tar";
}

std::optional<Compression> compression_of_media_type(std::string_view media_type) {
    // OCI's and Docker's layer types; the "nondistributable" ones are layers as well.
    for (std::string_view prefix : {"application/vnd.oci.image.layer.v1.tar",
                                    "application/vnd.oci.image.layer.nondistributable.v1.tar"}) {
        if (!media_type.starts_with(prefix)) continue;
        auto rest = media_type.substr(prefix.size());
        if (rest.empty()) return Compression::none;
        if (rest == "+gzip") return Compression::gzip;
        if (rest == "+zstd") return Compression::zstd;
        return std::nullopt;
    }
    if (media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
        media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
        return Compression::gzip;
    if (media_type == "application/vnd.docker.image.rootfs.diff.tar") return Compression::none;
    return std::nullopt;
}

Compression detect_compression(std::span<const std::byte> head) {
    if (starts_with(head, kGzipMagic)) return Compression::gzip;
    if (starts_with(head, kZstdMagic)) return Compression::zstd;
    return Compression::none;
}

ErrorOr<std::unique_ptr<LayerStream>> LayerStream::open(int fd, std::optional<Compression> compression) {
    auto head = TRY(read_head(fd, kZstdMagic.size()));
    Compression seen = detect_compression(head);
    if (compression && *compression != seen)
        return fail(std::string("layer: media type says ") + name_of(*compression) + ", content is " +
                    name_of(seen));
    auto hasher = TRY(Hasher::create("sha256"));
    std::unique_ptr<LayerStream> stream;
    switch (seen) {
        case Compression::none: stream = std::make_unique<PlainStream>(fd, std::move(hasher)); break;
        case Compression::gzip: stream = std::make_unique<GzipStream>(fd, std::move(hasher)); break;
        case Compression::zstd: {
            ZSTD_DCtx* ctx = ZSTD_createDCtx();
            if (ctx == nullptr) return fail("zstd: ZSTD_createDCtx failed");
            stream = std::make_unique<ZstdStream>(fd, std::move(hasher), ctx);
            break;
        }
    }
    stream->head_ = std::move(head);
    return stream;
}

ErrorOr<size_t> LayerStream::read_raw(std::span<std::byte> buffer) {
    if (head_used_ < head_.size()) {
        size_t n = std::min(buffer.size(), head_.size() - head_used_);
        std::memcpy(buffer.data(), head_.data() + head_used_, n);
        head_used_ += n;
        return n;
    }
    for (;;) {
        ssize_t n = ::read(fd_, buffer.data(), buffer.size());
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return fail_errno("layer: read");
    }
}

ErrorOr<size_t> LayerStream::read(std::span<std::byte> buffer) {
    size_t n = TRY(decode(buffer));
    hasher_.update(std::span<const std::byte>(buffer.data(), n));
    return n;
}

ErrorOr<Digest> LayerStream::finish() {
    // tar readers stop at the end-of-archive blocks; the diffID covers every byte after them too.
    std::vector<std::byte> rest(64 * 1024);
    while (TRY(read(rest)) > 0) {
    }
    return hasher_.finish();
}

}  // namespace hutch::images
