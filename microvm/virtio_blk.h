// virtio-blk (virtio 1.x section 5.2) on a host file: a disk of the file's size, in whole 512-byte
// sectors, read and written with preadv/pwritev straight between the file and the guest's
// buffers. One request queue; requests IN, OUT, FLUSH and GET_ID. A read-only disk offers
// VIRTIO_BLK_F_RO and fails every write with IOERR, whatever the driver makes of the bit.
//
// A request that is wrong (a buffer outside RAM or of the wrong direction, a sector past the end)
// fails alone with IOERR; only a chain without a writable status byte, which leaves no way to
// answer, breaks the device.
#pragma once

#include <linux/virtio_blk.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/fd.h"
#include "microvm/guest_memory.h"
#include "microvm/virtio_device.h"

namespace hutch::microvm {

constexpr uint64_t kSectorSize = 512;

class VirtioBlk final : public VirtioDevice {
public:
    // Opens `path` (a regular file) read-only or read-write for guest `memory`. GET_ID answers
    // `serial`, or the file's name when it is empty, cut to VIRTIO_BLK_ID_BYTES.
    static ErrorOr<std::unique_ptr<VirtioBlk>> open(const std::string& path, bool read_only,
                                                    const std::string& serial, const GuestMemory& memory);

    uint32_t device_id() const override;
    uint64_t features() const override;
    std::span<const uint8_t> config() const override;
    uint16_t queue_count() const override { return 1; }
    ErrorOr<bool> process(uint16_t index, Virtqueue& queue) override;

    uint64_t capacity() const { return capacity_; }  // in sectors

private:
    VirtioBlk(UniqueFd fd, bool read_only, uint64_t capacity, std::string id, const GuestMemory& memory);
    struct Result {
        uint8_t status;
        uint32_t written;  // bytes written into the guest's buffers, the status byte not counted
    };
    ErrorOr<uint32_t> handle(const DescriptorChain& chain);
    Result execute(uint32_t type, uint64_t sector, std::span<const Descriptor> data);
    Result transfer(bool to_guest, uint64_t sector, std::span<const Descriptor> data);
    Result flush();
    Result get_id(std::span<const Descriptor> data);

    UniqueFd fd_;
    bool read_only_;
    uint64_t capacity_;
    std::string id_;  // GET_ID's answer: the file's name, cut to VIRTIO_BLK_ID_BYTES
    const GuestMemory& memory_;
    virtio_blk_config config_ = {};
};

}  // namespace hutch::microvm
