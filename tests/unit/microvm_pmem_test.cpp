// virtio-pmem's host side without KVM (microvm/pmem_region.h, virtio_pmem.h, boot_layout.h): where
// the regions go in the guest's physical address space, and how a file becomes a region.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "microvm/boot_layout.h"
#include "microvm/guest_memory.h"
#include "microvm/memory_layout.h"
#include "microvm/pmem_region.h"
#include "microvm/virtio_pmem.h"
#include "microvm/virtqueue.h"

namespace fs = std::filesystem;
using namespace hutch::microvm;

namespace {

constexpr uint64_t kMiB = 1 << 20;

// A directory of the test's own, removed with it.
class TempDir {
public:
    TempDir() {
        char dir[] = "/tmp/hutch-pmem-test-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        path_ = dir;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name, const std::string& contents) const {
        std::ofstream(path_ / name, std::ios::binary) << contents;
        return (path_ / name).string();
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

}  // namespace

TEST_CASE("pmem regions go from 4 GiB on 128 MiB boundaries, clear of RAM and each other", "[microvm]") {
    std::vector<uint64_t> sizes = {2 * kMiB, 130 * kMiB, 2 * kMiB};
    auto placed = place_pmem(3072 * kMiB, sizes);
    REQUIRE(placed);
    CHECK(*placed == std::vector<uint64_t>{4096 * kMiB, 4224 * kMiB, 4480 * kMiB});
    for (uint64_t address : *placed) CHECK(address >= layout::kMmioHoleEnd);
    CHECK(place_pmem(64 * kMiB, {})->empty());

    std::vector<uint64_t> too_large = {layout::kPmemEnd - layout::kPmemBase + 2 * kMiB};
    auto refused = place_pmem(64 * kMiB, too_large);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.starts_with("pmem 0: "));
    std::vector<uint64_t> huge = {~0ull - kMiB};  // no overflow past the end
    CHECK_FALSE(place_pmem(64 * kMiB, huge));
}

TEST_CASE("a pmem file maps padded with zeros to 2 MiB; an empty one or a directory is refused",
          "[microvm]") {
    TempDir dir;
    std::string contents(5000, 'x');
    auto region = PmemRegion::open(dir.file("layer", contents), true);
    REQUIRE(region);
    CHECK(region->size() == 2 * kMiB);
    CHECK(region->file_size() == 5000);
    CHECK(region->read_only());
    CHECK(std::memcmp(region->host_address(), contents.data(), contents.size()) == 0);
    const uint8_t* bytes = region->host_address();
    CHECK(std::all_of(bytes + 5000, bytes + region->size(), [](uint8_t b) { return b == 0; }));

    auto empty = PmemRegion::open(dir.file("empty", ""), true);
    REQUIRE_FALSE(empty);
    CHECK(empty.error().message.ends_with("/empty: an empty file, nothing to map"));
    auto directory = PmemRegion::open(dir.path().string(), true);
    REQUIRE_FALSE(directory);
    CHECK(directory.error().message.ends_with(": not a regular file"));
}

TEST_CASE("virtio-pmem shows device id 27, no features, and {start, size} in its config", "[microvm]") {
    TempDir dir;
    auto region = PmemRegion::open(dir.file("layer", std::string(3 * kMiB, 'y')), true);
    REQUIRE(region);
    auto memory = GuestMemory::create(4 * kMiB);
    REQUIRE(memory);
    VirtioPmem pmem(*region, layout::kPmemBase, *memory);
    CHECK(pmem.device_id() == 27);
    CHECK(pmem.features() == 0);
    auto config = pmem.config();
    REQUIRE(config.size() == 16);
    uint64_t start, size;
    std::memcpy(&start, config.data(), 8);
    std::memcpy(&size, config.data() + 8, 8);
    CHECK(start == layout::kPmemBase);
    CHECK(size == 4 * kMiB);
}

namespace {

// One queue of 8 in 1 MiB of guest memory, laid out as a driver would, and a FLUSH chain in it:
// the request (4 bytes, `type`) at kRequest, the response (4 bytes) at kResponse.
constexpr uint64_t kTable = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kRequest = 0x4000, kResponse = 0x4010;

void put(GuestMemory& memory, uint64_t address, const auto& value) {
    std::memcpy(memory.host_address() + address, &value, sizeof value);
}
struct RingDescriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
// Offers the chain at descriptor 0: the 4-byte request of `type`, readable, then 4 bytes at
// `response` with `response_flags` (2: device-writable).
void offer_flush(GuestMemory& memory, uint32_t type, uint16_t response_flags, uint64_t response = kResponse) {
    put(memory, kRequest, type);
    put(memory, kResponse, uint32_t{0xdeadbeef});
    put(memory, kTable, RingDescriptor{kRequest, 4, 1, 1});
    put(memory, kTable + 16, RingDescriptor{response, 4, response_flags, 0});
    uint16_t index;
    std::memcpy(&index, memory.host_address() + kAvail + 2, 2);
    put(memory, kAvail + 4 + 2 * (index % 8), uint16_t{0});
    put(memory, kAvail + 2, static_cast<uint16_t>(index + 1));
}
uint32_t response(const GuestMemory& memory) {
    uint32_t ret;
    std::memcpy(&ret, memory.host_address() + kResponse, 4);
    return ret;
}

}  // namespace

TEST_CASE("virtio-pmem answers FLUSH, fails an unknown request, and stops without a response", "[microvm]") {
    TempDir dir;
    auto created = GuestMemory::create(kMiB);
    REQUIRE(created);
    auto& memory = *created;
    auto made = Virtqueue::create(memory, {8, kTable, kAvail, kUsed});
    REQUIRE(made);
    auto& queue = *made;
    for (bool read_only : {true, false}) {
        INFO("read-only: " << read_only);
        auto region = PmemRegion::open(dir.file("layer", std::string(4096, 'z')), read_only);
        REQUIRE(region);
        VirtioPmem pmem(*region, layout::kPmemBase, memory);
        offer_flush(memory, VIRTIO_PMEM_REQ_TYPE_FLUSH, 2);
        REQUIRE(pmem.process(0, queue) == true);
        CHECK(response(memory) == 0);  // flushed (fdatasync), or nothing to flush
        offer_flush(memory, 7, 2);     // no such request
        REQUIRE(pmem.process(0, queue) == true);
        CHECK(response(memory) == 1);
    }
    auto region = PmemRegion::open(dir.file("layer", std::string(4096, 'z')), true);
    REQUIRE(region);
    VirtioPmem pmem(*region, layout::kPmemBase, memory);
    // A response the device may not write (not device-writable, or outside RAM): no way to
    // answer, so the device stops, and the guest's memory is untouched.
    offer_flush(memory, VIRTIO_PMEM_REQ_TYPE_FLUSH, 0);
    CHECK_FALSE(pmem.process(0, queue));
    CHECK(response(memory) == 0xdeadbeef);
    put(memory, kAvail + 2, uint16_t{0});
    put(memory, kUsed + 2, uint16_t{0});
    auto fresh = Virtqueue::create(memory, {8, kTable, kAvail, kUsed});
    REQUIRE(fresh);
    offer_flush(memory, VIRTIO_PMEM_REQ_TYPE_FLUSH, 2, 0x200000);  // past the 1 MiB of RAM
    CHECK_FALSE(pmem.process(0, *fresh));
}
