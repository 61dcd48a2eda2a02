#include "microvm/cpuid.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace hutch::microvm {

namespace {

constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafCacheParameters = 0x4;
constexpr uint32_t kLeafTopology = 0xb;
constexpr uint32_t kLeafTopologyV2 = 0x1f;
constexpr uint32_t kLeafAmdAddressSizes = 0x80000008;

constexpr uint32_t kHyperThreadingBit = 1u << 28;  // leaf 1 EDX: EBX[23:16] holds a processor count
constexpr uint32_t kTopologyLevelThread = 1;
constexpr uint32_t kTopologyLevelCore = 2;

void set_bits(uint32_t& reg, int low, int width, uint32_t value) {
    uint32_t mask = ((width == 32 ? 0 : 1u << width) - 1) << low;
    reg = (reg & ~mask) | ((value << low) & mask);
}

void adapt_features(kvm_cpuid_entry2& e, uint32_t index, uint32_t count) {
    e.ecx |= kCpuidHypervisorBit;
    set_bits(e.ebx, 24, 8, index);  // initial APIC id: KVM numbers a vCPU's LAPIC by its vCPU id
    set_bits(e.ebx, 16, 8, count);  // logical processors in the package
    if (count > 1)
        e.edx |= kHyperThreadingBit;
    else
        e.edx &= ~kHyperThreadingBit;
}

// Leaf 4 EAX[31:26]: cores in the package, minus one, on each cache level (EAX[4:0], the cache
// type, is 0 past the last). The cache levels themselves stay the host's.
void adapt_cache_parameters(kvm_cpuid_entry2& e, uint32_t count) {
    if ((e.eax & 0x1f) != 0) set_bits(e.eax, 26, 6, count - 1);
}

// Leaves 0xb and 0x1f, level by level (the subleaf): level 0 is threads (one per core), level 1
// cores (`count` in the package), level 2 ends the list. EAX: how far to shift the x2APIC id to
// reach the next level's id; EDX: the x2APIC id. KVM's supported list may hold level 0 alone.
std::vector<kvm_cpuid_entry2> topology_levels(uint32_t leaf, uint32_t index, uint32_t count) {
    std::vector<kvm_cpuid_entry2> levels(3);
    for (uint32_t level = 0; level < levels.size(); ++level) {
        auto& e = levels[level];
        e.function = leaf;
        e.index = level;
        e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        e.edx = index;
        e.ecx = level;  // level type 0 (invalid) unless set below
    }
    levels[0].ebx = 1;
    levels[0].ecx |= kTopologyLevelThread << 8;
    levels[1].eax = static_cast<uint32_t>(std::bit_width(count - 1));
    levels[1].ebx = count;
    levels[1].ecx |= kTopologyLevelCore << 8;
    return levels;
}

// AMD's leaf 0x8000_0008 ECX[7:0]: cores in the package, minus one; [15:12] 0: size the APIC id
// field from that count.
void adapt_amd_core_count(kvm_cpuid_entry2& e, uint32_t count) {
    set_bits(e.ecx, 0, 8, count - 1);
    set_bits(e.ecx, 12, 4, 0);
}

}  // namespace

void adapt_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count) {
    std::vector<kvm_cpuid_entry2> topology;
    for (uint32_t leaf : {kLeafTopology, kLeafTopologyV2}) {
        auto removed = std::erase_if(entries, [&](const kvm_cpuid_entry2& e) { return e.function == leaf; });
        if (removed > 0) std::ranges::copy(topology_levels(leaf, index, count), std::back_inserter(topology));
    }
    entries.insert(entries.end(), topology.begin(), topology.end());
    for (auto& e : entries) {
        switch (e.function) {
            case kLeafFeatures: adapt_features(e, index, count); break;
            case kLeafCacheParameters: adapt_cache_parameters(e, count); break;
            case kLeafAmdAddressSizes: adapt_amd_core_count(e, count); break;
            default: break;
        }
    }
}

}  // namespace hutch::microvm
