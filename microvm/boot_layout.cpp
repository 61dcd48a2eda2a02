#include "microvm/boot_layout.h"

#include <algorithm>
#include <string>

#include "microvm/hex.h"
#include "microvm/memory_layout.h"

namespace hutch::microvm {

std::vector<MemoryRegion> guest_memory_map(uint64_t memory_size) {
    return {
        {0, layout::kEbdaStart, E820Type::ram},
        {layout::kEbdaStart, layout::kHighMemory - layout::kEbdaStart, E820Type::reserved},
        {layout::kHighMemory, memory_size - layout::kHighMemory, E820Type::ram},
    };
}

ErrorOr<void> check_cmdline(std::string_view cmdline) {
    if (cmdline.find('\0') != std::string_view::npos) return fail("kernel command line: it holds a NUL byte");
    if (cmdline.size() >= layout::kCmdlineMax)
        return fail("kernel command line: " + std::to_string(cmdline.size()) + " bytes, over the " +
                    std::to_string(layout::kCmdlineMax - 1) + " that Linux reads on x86");
    return {};
}

ErrorOr<uint64_t> place_initrd(uint64_t memory_size, uint64_t kernel_end, uint64_t size) {
    constexpr uint64_t kPage = 4096;
    auto too_large = [&] {
        return fail("initrd: " + std::to_string(size) + " bytes do not fit in guest memory (" +
                    std::to_string(memory_size >> 20) + " MiB) above the kernel, which ends at " +
                    hex(kernel_end));
    };
    if (size > memory_size) return too_large();
    uint64_t address = (memory_size - size) & ~(kPage - 1);
    if (address < kernel_end || address < layout::kHighMemory) return too_large();
    return address;
}

ErrorOr<std::vector<uint64_t>> place_pmem(uint64_t memory_size, std::span<const uint64_t> sizes) {
    std::vector<uint64_t> addresses;
    // The hole's end, not RAM's: RAM ends below the hole (layout::kMaxMemory), but say so here too.
    uint64_t next = std::max(layout::kPmemBase, memory_size);
    for (uint64_t size : sizes) {
        uint64_t address = (next + layout::kPmemAlign - 1) / layout::kPmemAlign * layout::kPmemAlign;
        if (size == 0 || size > layout::kPmemEnd || address > layout::kPmemEnd - size)
            return fail("pmem " + std::to_string(addresses.size()) + ": " + std::to_string(size) +
                        " bytes do not fit below the guest's " + std::to_string(layout::kPmemEnd >> 30) +
                        " GiB of physical address space after the regions before it");
        addresses.push_back(address);
        next = address + size;
    }
    return addresses;
}

}  // namespace hutch::microvm
