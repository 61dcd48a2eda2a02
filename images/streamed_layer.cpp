// LayerStore::unpack_streamed: a layer unpacked from its blob's bytes while they are downloaded,
// so that a pull costs about the larger of the download and the unpack rather than their sum.
//
// The bytes go through a socketpair to a thread that runs the same unpack_layer a stored blob gets
// (every protection of unpack.h holds), into a TempLayerDir. A socket rather than a pipe: a write
// after the unpacker gave up must fail with EPIPE, not raise SIGPIPE, and send() has MSG_NOSIGNAL.
// The socket's buffer and the read-ahead's blocks are all that is ever held: a slow unpack blocks
// send(), and so the download.
//
// Shutdown, either way round, without a deadlock: an unpack that fails closes its end, so the
// next write fails (and the download stops) with the unpack's error; a download that fails drops
// the sink, which closes the writing end: the unpacker reads the end of the stream, fails or ends,
// is joined, and its directory is removed.
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <system_error>
#include <thread>

#include "images/layer_dir.h"
#include "images/layer_store.h"
#include "images/rooted_path.h"
#include "images/unpack.h"

namespace hutch::images {
namespace {

// Reads what is left until the end, so that a writer never waits on a reader that is gone. A blob
// with the right digest has nothing left after its compressed stream's end.
void drain(int fd) {
    char buffer[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n == 0 || (n == -1 && errno != EINTR)) return;
    }
}

class StreamedLayer final : public BlobSink {
public:
    struct Target {
        int layers_fd;
        int store_lock_fd;
        std::string layers;  // the path of layers_fd, for errors
        Descriptor layer;
        Digest diff_id;
        Digest chain_id;
    };

    static ErrorOr<std::unique_ptr<StreamedLayer>> start(Target target) {
        auto temp =
            TRY(TempLayerDir::create(target.layers_fd, target.store_lock_fd, target.chain_id, target.layers));
        auto diff = TRY(open_dir_at(target.layers_fd, temp.name() + "/diff"));
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1) return fail_errno("socketpair");
        UniqueFd reader(fds[0]), writer(fds[1]);
        std::unique_ptr<StreamedLayer> sink(
            new StreamedLayer(std::move(target), std::move(temp), std::move(writer)));
        try {
            sink->thread_ =
                std::thread(&StreamedLayer::unpack, sink.get(), std::move(reader), std::move(diff));
        } catch (const std::system_error& e) {
            return fail(std::string("start an unpack thread: ") + e.what());
        }
        return sink;
    }

    ~StreamedLayer() override { stop(); }
    StreamedLayer(const StreamedLayer&) = delete;
    StreamedLayer& operator=(const StreamedLayer&) = delete;

    ErrorOr<void> write(std::span<const std::byte> bytes) override {
        while (!bytes.empty()) {
            ssize_t n = ::send(writer_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n >= 0) {
                bytes = bytes.subspan(static_cast<size_t>(n));
            } else if (errno != EINTR) {
                if (errno != EPIPE && errno != ECONNRESET)
                    return fail_errno(what() + ": send to the unpacker");
                // The unpacker stopped reading: it failed, and says why.
                stop();
                if (result_ && !*result_) return std::unexpected(result_->error().context(what()));
                return fail(what() + ": the unpack ended before the blob did");
            }
        }
        return {};
    }

    ErrorOr<void> finish() override {
        stop();
        if (!result_) return fail(what() + ": the unpack did not run");
        auto actual = TRY_CTX(*result_, what());
        return commit_layer(temp_, target_.layers_fd, target_.layers, target_.layer.digest, actual,
                            target_.diff_id, target_.chain_id);
    }

private:
    StreamedLayer(Target target, TempLayerDir temp, UniqueFd writer)
        : target_(std::move(target)), temp_(std::move(temp)), writer_(std::move(writer)) {}

    std::string what() const { return "layer " + target_.layer.digest.str(); }

    // The thread. reader closes when it returns: a writer still sending then gets EPIPE.
    void unpack(UniqueFd reader, UniqueFd diff) {
        UnpackOptions options{WhiteoutMode::overlay, target_.layer.media_type};
        auto unpacked = unpack_layer(reader.get(), diff.get(), options);
        if (unpacked) drain(reader.get());
        result_ = std::move(unpacked);
    }

    // Ends the stream (the unpacker reads its end) and waits for the unpacker.
    void stop() {
        writer_.reset();
        if (thread_.joinable()) thread_.join();
    }

    Target target_;
    TempLayerDir temp_;  // removed when this goes, unless committed
    UniqueFd writer_;
    std::optional<ErrorOr<Digest>> result_;  // the thread's, read once it is joined
    std::thread thread_;
};

}  // namespace

ErrorOr<std::unique_ptr<BlobSink>> LayerStore::unpack_streamed(const Descriptor& layer, const Digest& diff_id,
                                                               const Digest& chain_id) const {
    return TRY(StreamedLayer::start({layers_fd_.get(), lock_fd_.get(), layers_, layer, diff_id, chain_id}));
}

}  // namespace hutch::images
