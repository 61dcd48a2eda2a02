#include "microvm/virtio_pmem.h"

#include <linux/virtio_ids.h>
#include <unistd.h>

#include <cstring>

namespace hutch::microvm {

namespace {

// Linux's driver reads any non-zero `ret` as EIO.
constexpr uint32_t kOk = 0;
constexpr uint32_t kFailed = 1;

}  // namespace

VirtioPmem::VirtioPmem(const PmemRegion& region, uint64_t guest_address, const GuestMemory& memory)
    : region_(region), memory_(memory) {
    config_.start = guest_address;
    config_.size = region_.size();
}

uint32_t VirtioPmem::device_id() const { return VIRTIO_ID_PMEM; }

std::span<const uint8_t> VirtioPmem::config() const {
    return {reinterpret_cast<const uint8_t*>(&config_), sizeof config_};
}

ErrorOr<bool> VirtioPmem::process(uint16_t, Virtqueue& queue) {
    return queue.serve_available([this](const DescriptorChain& chain) { return handle(chain); });
}

// A chain is the request (virtio_pmem_req, driver-readable) and the response (virtio_pmem_resp,
// device-writable) last.
ErrorOr<uint32_t> VirtioPmem::handle(const DescriptorChain& chain) {
    const auto& descriptors = chain.descriptors;  // never empty (Virtqueue::walk)
    const Descriptor& last = descriptors.back();
    if (descriptors.size() < 2 || !last.device_writable || last.length < sizeof(virtio_pmem_resp) ||
        !memory_.contains(last.address, sizeof(virtio_pmem_resp)))
        return fail("request " + std::to_string(chain.head) + " has no writable response in RAM");
    const Descriptor& first = descriptors.front();
    uint32_t ret = kFailed;
    if (!first.device_writable && first.length >= sizeof(virtio_pmem_req) &&
        memory_.contains(first.address, sizeof(virtio_pmem_req))) {
        virtio_pmem_req request;
        std::memcpy(&request, memory_.host_address() + first.address, sizeof request);
        if (request.type == VIRTIO_PMEM_REQ_TYPE_FLUSH) ret = flush();
    }
    virtio_pmem_resp response = {ret};
    std::memcpy(memory_.host_address() + last.address, &response, sizeof response);
    return static_cast<uint32_t>(sizeof response);
}

uint32_t VirtioPmem::flush() {
    if (region_.read_only()) return kOk;
    return ::fdatasync(region_.fd()) == 0 ? kOk : kFailed;
}

}  // namespace hutch::microvm
