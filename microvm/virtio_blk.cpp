#include "microvm/virtio_blk.h"

#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

namespace hutch::microvm {

namespace {

// The request header the chain's first buffer holds (struct virtio_blk_outhdr).
struct RequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

// A vectored transfer, whole or not at all: a short one (the file shrank under the VM) fails.
bool transfer_all(int fd, bool read, std::vector<iovec>& buffers, uint64_t offset, uint64_t total) {
    ssize_t done;
    do {
        done =
            read
                ? ::preadv(fd, buffers.data(), static_cast<int>(buffers.size()), static_cast<off_t>(offset))
                : ::pwritev(fd, buffers.data(), static_cast<int>(buffers.size()), static_cast<off_t>(offset));
    } while (done < 0 && errno == EINTR);  // a kick of the vCPU thread (vcpu_threads.cpp)
    return done >= 0 && static_cast<uint64_t>(done) == total;
}

}  // namespace

ErrorOr<std::unique_ptr<VirtioBlk>> VirtioBlk::open(const std::string& path, bool read_only,
                                                    const std::string& serial, const GuestMemory& memory) {
    std::string what = "disk " + path;
    UniqueFd fd(TRY_SYS(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC), what));
    struct stat st = {};
    TRY_SYS(::fstat(fd.get(), &st), what);
    if (!S_ISREG(st.st_mode)) return fail(what + ": not a regular file");
    // A tail shorter than a sector is out of the guest's reach: it addresses whole sectors.
    uint64_t capacity = static_cast<uint64_t>(st.st_size) / kSectorSize;
    std::string id = (serial.empty() ? std::filesystem::path(path).filename().string() : serial)
                         .substr(0, VIRTIO_BLK_ID_BYTES);
    return std::unique_ptr<VirtioBlk>(
        new VirtioBlk(std::move(fd), read_only, capacity, std::move(id), memory));
}

VirtioBlk::VirtioBlk(UniqueFd fd, bool read_only, uint64_t capacity, std::string id,
                     const GuestMemory& memory)
    : fd_(std::move(fd)), read_only_(read_only), capacity_(capacity), id_(std::move(id)), memory_(memory) {
    config_.capacity = capacity;
}

uint32_t VirtioBlk::device_id() const { return VIRTIO_ID_BLOCK; }

uint64_t VirtioBlk::features() const {
    uint64_t features = 1ull << VIRTIO_BLK_F_FLUSH;
    if (read_only_) features |= 1ull << VIRTIO_BLK_F_RO;
    return features;
}

std::span<const uint8_t> VirtioBlk::config() const {
    return {reinterpret_cast<const uint8_t*>(&config_), sizeof config_};
}

ErrorOr<bool> VirtioBlk::process(uint16_t, Virtqueue& queue) {
    return queue.serve_available([this](const DescriptorChain& chain) { return handle(chain); });
}

// A chain is the header, the data buffers, and the status byte last.
ErrorOr<uint32_t> VirtioBlk::handle(const DescriptorChain& chain) {
    const auto& descriptors = chain.descriptors;  // never empty (Virtqueue::walk)
    const Descriptor& last = descriptors.back();
    if (descriptors.size() < 2 || !last.device_writable || last.length < 1 ||
        !memory_.contains(last.address, 1))
        return fail("request " + std::to_string(chain.head) + " has no writable status byte in RAM");
    const Descriptor& first = descriptors.front();
    Result result{VIRTIO_BLK_S_IOERR, 0};
    if (!first.device_writable && first.length >= sizeof(RequestHeader) &&
        memory_.contains(first.address, sizeof(RequestHeader))) {
        RequestHeader header;
        std::memcpy(&header, memory_.host_address() + first.address, sizeof header);
        result =
            execute(header.type, header.sector, std::span(descriptors).subspan(1, descriptors.size() - 2));
    }
    memory_.host_address()[last.address] = result.status;
    return result.written + 1;
}

VirtioBlk::Result VirtioBlk::execute(uint32_t type, uint64_t sector, std::span<const Descriptor> data) {
    switch (type) {
        case VIRTIO_BLK_T_IN: return transfer(true, sector, data);
        case VIRTIO_BLK_T_OUT:
            if (read_only_) return {VIRTIO_BLK_S_IOERR, 0};
            return transfer(false, sector, data);
        case VIRTIO_BLK_T_FLUSH: return flush();
        case VIRTIO_BLK_T_GET_ID: return get_id(data);
        default: return {VIRTIO_BLK_S_UNSUPP, 0};
    }
}

// Every buffer must be RAM of the right direction, and the whole transfer whole sectors inside the
// disk: else nothing moves.
VirtioBlk::Result VirtioBlk::transfer(bool to_guest, uint64_t sector, std::span<const Descriptor> data) {
    std::vector<iovec> buffers;
    uint64_t total = 0;  // at most 256 buffers of 4 GiB: no overflow
    for (const auto& buffer : data) {
        if (buffer.device_writable != to_guest || !memory_.contains(buffer.address, buffer.length))
            return {VIRTIO_BLK_S_IOERR, 0};
        buffers.push_back({memory_.host_address() + buffer.address, buffer.length});
        total += buffer.length;
    }
    // The used ring counts the bytes in 32 bits.
    if (total == 0 || total % kSectorSize != 0 || total >= UINT32_MAX) return {VIRTIO_BLK_S_IOERR, 0};
    if (sector > capacity_ || total / kSectorSize > capacity_ - sector) return {VIRTIO_BLK_S_IOERR, 0};
    if (!transfer_all(fd_.get(), to_guest, buffers, sector * kSectorSize, total))
        return {VIRTIO_BLK_S_IOERR, 0};
    return {VIRTIO_BLK_S_OK, to_guest ? static_cast<uint32_t>(total) : 0};
}

// A read-only disk has nothing to flush.
VirtioBlk::Result VirtioBlk::flush() {
    if (read_only_) return {VIRTIO_BLK_S_OK, 0};
    return {static_cast<uint8_t>(::fdatasync(fd_.get()) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR), 0};
}

// The id, NUL-padded to the 20 bytes the spec gives it, into the one buffer.
VirtioBlk::Result VirtioBlk::get_id(std::span<const Descriptor> data) {
    if (data.size() != 1 || !data[0].device_writable || !memory_.contains(data[0].address, data[0].length))
        return {VIRTIO_BLK_S_IOERR, 0};
    uint32_t length = std::min<uint32_t>(data[0].length, VIRTIO_BLK_ID_BYTES);
    uint8_t* target = memory_.host_address() + data[0].address;
    std::memset(target, 0, length);
    std::memcpy(target, id_.data(), std::min<size_t>(id_.size(), length));
    return {VIRTIO_BLK_S_OK, length};
}

}  // namespace hutch::microvm
