// The virtio parts of the builtin VMM (microvm/virtqueue, virtio_blk, virtio_mmio), without KVM:
// a split queue laid out in guest memory by the test, as a driver would, with the hostile cases
// a guest can make: indexes past the table, loops, rings outside RAM, buffers outside RAM.
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>

#include "microvm/guest_memory.h"
#include "microvm/virtio_blk.h"
#include "microvm/virtio_mmio.h"
#include "microvm/virtqueue.h"

using namespace hutch::microvm;

namespace {

constexpr uint64_t kTable = 0x1000, kAvail = 0x2000, kUsed = 0x3000;
constexpr uint16_t kSize = 8;

struct RingDescriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

// A driver's side of one queue in 1 MiB of guest memory.
struct Driver {
    GuestMemory memory = *GuestMemory::create(1 << 20);

    Virtqueue queue() {
        auto queue = Virtqueue::create(memory, {kSize, kTable, kAvail, kUsed});
        REQUIRE(queue);
        return std::move(*queue);
    }
    void descriptor(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
        RingDescriptor d{addr, len, flags, next};
        std::memcpy(memory.host_address() + kTable + 16 * index, &d, sizeof d);
    }
    // Makes chain `head` available, advancing the index by `advance`.
    void offer(uint16_t head, uint16_t advance = 1) {
        uint16_t index;
        std::memcpy(&index, memory.host_address() + kAvail + 2, 2);
        std::memcpy(memory.host_address() + kAvail + 4 + 2 * (index % kSize), &head, 2);
        index = static_cast<uint16_t>(index + advance);
        std::memcpy(memory.host_address() + kAvail + 2, &index, 2);
    }
    uint16_t used_index() {
        uint16_t index;
        std::memcpy(&index, memory.host_address() + kUsed + 2, 2);
        return index;
    }
    uint32_t used_length(uint16_t slot) {
        uint32_t length;
        std::memcpy(&length, memory.host_address() + kUsed + 4 + 8 * slot + 4, 4);
        return length;
    }
};

constexpr uint16_t kNext = 1, kWrite = 2, kIndirect = 4;

// A disk file of `sectors` sectors, byte i being i * 13 + 1, removed with the object.
struct DiskFile {
    std::string path;
    explicit DiskFile(uint64_t sectors) {
        char name[] = "/tmp/hutch-virtio-test-XXXXXX";
        int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        path = name;
        std::string bytes(sectors * kSectorSize, '\0');
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 13 + 1);
        REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }
    ~DiskFile() { ::unlink(path.c_str()); }
};

// A block request at 0x10000: header, one data buffer at 0x20000 of `length` bytes, status at 0x30000.
void block_request(Driver& driver, uint32_t type, uint64_t sector, uint64_t data, uint32_t length) {
    uint32_t header[4] = {type, 0, static_cast<uint32_t>(sector), static_cast<uint32_t>(sector >> 32)};
    std::memcpy(driver.memory.host_address() + 0x10000, header, sizeof header);
    driver.memory.host_address()[0x30000] = 0xff;
    uint16_t data_flags = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ? kWrite : 0;
    driver.descriptor(0, 0x10000, 16, kNext, 1);
    driver.descriptor(1, data, length, data_flags | kNext, 2);
    driver.descriptor(2, 0x30000, 1, kWrite);
    driver.offer(0);
}

}  // namespace

TEST_CASE("a virtqueue's rings must be aligned, in RAM, and of a power-of-two size", "[microvm]") {
    Driver driver;
    CHECK(Virtqueue::create(driver.memory, {kSize, kTable, kAvail, kUsed}));
    CHECK_FALSE(Virtqueue::create(driver.memory, {6, kTable, kAvail, kUsed}));
    CHECK_FALSE(Virtqueue::create(driver.memory, {512, kTable, kAvail, kUsed}));
    CHECK_FALSE(Virtqueue::create(driver.memory, {0, kTable, kAvail, kUsed}));
    CHECK_FALSE(Virtqueue::create(driver.memory, {kSize, kTable + 8, kAvail, kUsed}));
    CHECK_FALSE(Virtqueue::create(driver.memory, {kSize, kTable, kAvail, kUsed + 2}));
    auto outside = Virtqueue::create(driver.memory, {kSize, 0xfff00000000, kAvail, kUsed});
    REQUIRE_FALSE(outside);
    CHECK_THAT(outside.error().message, Catch::Contains("outside guest memory"));
    CHECK_FALSE(Virtqueue::create(driver.memory, {kSize, kTable, (1 << 20) - 4, kUsed}));
}

TEST_CASE("a virtqueue hands over chains in order and returns them in the used ring", "[microvm]") {
    Driver driver;
    auto queue = driver.queue();
    CHECK_FALSE(*queue.pop());  // empty
    driver.descriptor(3, 0x10000, 16, kNext, 5);
    driver.descriptor(5, 0x20000, 512, kWrite);
    driver.offer(3);
    auto chain = queue.pop();
    REQUIRE(chain);
    REQUIRE(*chain);
    CHECK((*chain)->head == 3);
    REQUIRE((*chain)->descriptors.size() == 2);
    CHECK((*chain)->descriptors[0].address == 0x10000);
    CHECK_FALSE((*chain)->descriptors[0].device_writable);
    CHECK((*chain)->descriptors[1].length == 512);
    CHECK((*chain)->descriptors[1].device_writable);
    queue.add_used(3, 513);
    CHECK(driver.used_index() == 1);
    CHECK(driver.used_length(0) == 513);
    CHECK_FALSE(*queue.pop());
}

TEST_CASE("a virtqueue refuses the chains a hostile driver makes", "[microvm]") {
    Driver driver;
    auto queue = driver.queue();
    std::string expected;
    SECTION("a head past the table") {
        driver.offer(kSize);
        expected = "outside the 8-entry table";
    }
    SECTION("a next index past the table") {
        driver.descriptor(0, 0x10000, 16, kNext, 200);
        driver.offer(0);
        expected = "descriptor index 200";
    }
    SECTION("a loop") {
        driver.descriptor(0, 0x10000, 16, kNext, 1);
        driver.descriptor(1, 0x10000, 16, kNext, 0);
        driver.offer(0);
        expected = "it loops";
    }
    SECTION("an indirect descriptor, never offered") {
        driver.descriptor(0, 0x10000, 16, kIndirect);
        driver.offer(0);
        expected = "indirect";
    }
    SECTION("an available index more than a queue ahead") {
        driver.offer(0, 100);
        expected = "jumped 100 entries";
    }
    auto chain = queue.pop();
    REQUIRE_FALSE(chain);
    CHECK_THAT(chain.error().message, Catch::Contains(expected));
}

TEST_CASE("virtio-blk reads sectors into guest memory and fails what it cannot do with IOERR", "[microvm]") {
    DiskFile file(16);
    Driver driver;
    auto queue = driver.queue();
    auto blk = VirtioBlk::open(file.path, true, "", driver.memory);
    REQUIRE(blk);
    CHECK((*blk)->capacity() == 16);
    CHECK((*blk)->features() & (1u << VIRTIO_BLK_F_RO));
    uint8_t* status = driver.memory.host_address() + 0x30000;

    block_request(driver, VIRTIO_BLK_T_IN, 2, 0x20000, 1024);
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(*status == VIRTIO_BLK_S_OK);
    CHECK(driver.used_length(0) == 1025);
    for (size_t i = 0; i < 1024; ++i)
        REQUIRE(driver.memory.host_address()[0x20000 + i] == static_cast<uint8_t>((1024 + i) * 13 + 1));

    block_request(driver, VIRTIO_BLK_T_IN, 15, 0x20000, 1024);  // the second sector is past the end
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(*status == VIRTIO_BLK_S_IOERR);

    block_request(driver, VIRTIO_BLK_T_IN, 0, (1 << 20) - 512, 1024);  // half outside RAM
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(*status == VIRTIO_BLK_S_IOERR);

    block_request(driver, VIRTIO_BLK_T_OUT, 0, 0x20000, 512);  // a read-only disk
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(*status == VIRTIO_BLK_S_IOERR);

    block_request(driver, 77, 0, 0x20000, 512);
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(*status == VIRTIO_BLK_S_UNSUPP);
    CHECK(driver.used_index() == 5);
}

TEST_CASE("virtio-blk writes a read-write disk, and stops at a request with no status byte", "[microvm]") {
    DiskFile file(4);
    Driver driver;
    auto queue = driver.queue();
    auto blk = VirtioBlk::open(file.path, false, "", driver.memory);
    REQUIRE(blk);
    std::memset(driver.memory.host_address() + 0x20000, 0xab, 512);
    block_request(driver, VIRTIO_BLK_T_OUT, 3, 0x20000, 512);
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(driver.memory.host_address()[0x30000] == VIRTIO_BLK_S_OK);
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    uint8_t bytes[2] = {};
    CHECK(::pread(fd, bytes, 2, 3 * 512 - 1) == 2);
    ::close(fd);
    CHECK(bytes[0] == static_cast<uint8_t>((3 * 512 - 1) * 13 + 1));  // the sector before: untouched
    CHECK(bytes[1] == 0xab);

    driver.descriptor(0, 0x10000, 16, kNext, 1);
    driver.descriptor(1, 0x20000, 512, 0);  // the last buffer is not writable: nowhere to answer
    driver.offer(0);
    auto result = (*blk)->process(0, queue);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message, Catch::Contains("no writable status byte"));
}

TEST_CASE("virtio-blk answers GET_ID with the serial it was given, or the file's name", "[microvm]") {
    DiskFile file(1);
    Driver driver;
    auto queue = driver.queue();
    auto [serial, expected] = GENERATE(table<std::string, std::string>({
        {"hutch-layer-0", "hutch-layer-0"},
        {"", ""},  // the file's name, /tmp/hutch-virtio-test-XXXXXX's last part
        {"a-serial-longer-than-twenty-bytes", "a-serial-longer-than"},
    }));
    if (expected.empty())
        expected = std::filesystem::path(file.path).filename().string().substr(0, VIRTIO_BLK_ID_BYTES);
    auto blk = VirtioBlk::open(file.path, true, serial, driver.memory);
    REQUIRE(blk);
    std::memset(driver.memory.host_address() + 0x20000, 0, VIRTIO_BLK_ID_BYTES);
    block_request(driver, VIRTIO_BLK_T_GET_ID, 0, 0x20000, VIRTIO_BLK_ID_BYTES);
    REQUIRE(*(*blk)->process(0, queue));
    CHECK(driver.memory.host_address()[0x30000] == VIRTIO_BLK_S_OK);
    auto id = reinterpret_cast<const char*>(driver.memory.host_address() + 0x20000);
    CHECK(std::string(id, ::strnlen(id, VIRTIO_BLK_ID_BYTES)) == expected);
}

TEST_CASE("a virtio-mmio device is announced on the command line as Linux reads it", "[microvm]") {
    CHECK(virtio_mmio_cmdline(0xd0000000, 5) == "virtio_mmio.device=4K@0xd0000000:5");
    CHECK(virtio_mmio_cmdline(0xd0001000, 6) == "virtio_mmio.device=4K@0xd0001000:6");
}
