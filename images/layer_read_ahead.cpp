#include "images/layer_read_ahead.h"

#include <system_error>

namespace hutch::images {
namespace {

// 8 blocks of 256 KiB: each as large as one inflate call fills, and enough of them that the
// thread runs on through a burst of small files, which take the reader long for few bytes.
constexpr size_t kBlocks = 8;
constexpr size_t kBlockSize = 256 * 1024;

}  // namespace

LayerReadAhead::LayerReadAhead(LayerStream& stream) : stream_(stream), blocks_(kBlocks) {
    for (size_t i = 0; i < kBlocks; ++i) {
        blocks_[i].resize(kBlockSize);
        free_.push_back(i);
    }
}

ErrorOr<std::unique_ptr<LayerReadAhead>> LayerReadAhead::start(LayerStream& stream) {
    std::unique_ptr<LayerReadAhead> ahead(new LayerReadAhead(stream));
    try {
        ahead->thread_ = std::thread([raw = ahead.get()] { raw->run(); });
    } catch (const std::system_error& e) {
        return fail(std::string("layer: start the decompressing thread: ") + e.what());
    }
    return ahead;
}

LayerReadAhead::~LayerReadAhead() { stop_and_join(); }

void LayerReadAhead::stop_and_join() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void LayerReadAhead::run() {
    for (;;) {
        size_t index = 0;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || !free_.empty(); });
            if (stop_) return;
            index = free_.back();
            free_.pop_back();
        }
        // The stream is this thread's alone until it ends: decompressed and hashed unlocked.
        auto n = stream_.read(blocks_[index]);
        {
            std::lock_guard lock(mutex_);
            if (!n)
                error_ = n.error();
            else if (*n == 0)
                ended_ = true;
            if (!n || *n == 0 || draining_)
                free_.push_back(index);
            else
                filled_.push_back({index, *n});
        }
        changed_.notify_all();
        if (!n || *n == 0) return;
    }
}

ErrorOr<std::span<const std::byte>> LayerReadAhead::next() {
    std::unique_lock lock(mutex_);
    if (held_) {
        free_.push_back(*held_);
        held_.reset();
        changed_.notify_all();
    }
    changed_.wait(lock, [&] { return !filled_.empty() || ended_ || error_; });
    // Blocks read before an error are still good: the reader gets them first.
    if (!filled_.empty()) {
        auto [index, size] = filled_.front();
        filled_.pop_front();
        held_ = index;
        return std::span<const std::byte>(blocks_[index].data(), size);
    }
    if (error_) return std::unexpected(*error_);
    return std::span<const std::byte>();
}

ErrorOr<Digest> LayerReadAhead::finish() {
    {
        std::unique_lock lock(mutex_);
        draining_ = true;
        for (const auto& filled : filled_) free_.push_back(filled.index);
        filled_.clear();
        changed_.notify_all();
        changed_.wait(lock, [&] { return ended_ || error_; });
    }
    stop_and_join();
    if (error_) return std::unexpected(*error_);
    // The thread read the stream to its end: this only returns the hash of all of it.
    return stream_.finish();
}

}  // namespace hutch::images
