// A layer's uncompressed stream, decompressed and hashed on a thread of its own, a few blocks
// ahead of the tar reader. Internal to images/ (the unpacker's).
//
// Why: inflating and hashing take about half the CPU time of an unpack (ISA-L's inflate a third,
// SHA-256 a fifth, on a Debian rootfs), the files' creation in the kernel the other half. Run one
// after the other, each waits for the other; run on two CPUs, the unpack takes about as long as
// the larger half. (`tar -xzf` gets the same from gzip, a process of its own.)
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "base/error.h"
#include "images/digest.h"
#include "images/layer_stream.h"

namespace hutch::images {

class LayerReadAhead {
public:
    // Starts reading stream, which stays the caller's and must outlive this object.
    static ErrorOr<std::unique_ptr<LayerReadAhead>> start(LayerStream& stream);
    // Stops the thread (at its next block) and waits for it.
    ~LayerReadAhead();
    LayerReadAhead(const LayerReadAhead&) = delete;
    LayerReadAhead& operator=(const LayerReadAhead&) = delete;

    // The next block of the uncompressed stream, valid until the next call; empty at its end.
    ErrorOr<std::span<const std::byte>> next();
    // Lets the thread read and hash whatever is left, unread, and returns the diffID.
    ErrorOr<Digest> finish();

private:
    explicit LayerReadAhead(LayerStream& stream);
    void run();  // the thread: fills free blocks until the end of the stream, an error, or stop
    void stop_and_join();

    struct Filled {
        size_t index;
        size_t size;
    };
    LayerStream& stream_;
    std::vector<std::vector<std::byte>> blocks_;
    std::mutex mutex_;
    std::condition_variable changed_;
    // Under mutex_:
    std::vector<size_t> free_;    // blocks the thread may fill
    std::deque<Filled> filled_;   // blocks the reader has not taken yet, in stream order
    std::optional<size_t> held_;  // the block next() last returned
    bool draining_ = false;       // finish(): nothing more is taken, blocks are refilled at once
    bool stop_ = false;
    bool ended_ = false;
    std::optional<Error> error_;
    std::thread thread_;
};

}  // namespace hutch::images
