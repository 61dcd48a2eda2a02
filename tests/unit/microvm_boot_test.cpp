// The builtin VMM's loaders and boot data (microvm/), without KVM: a kernel image, a command line
// and an initrd come from the user, so every malformed one must fail with one clear line, and a
// good one must land where the boot protocol says.
#include <elf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "microvm/boot_layout.h"
#include "microvm/cpuid.h"
#include "microvm/device_bus.h"
#include "microvm/elf_kernel.h"
#include "microvm/guest_memory.h"
#include "microvm/pvh_boot.h"

using namespace hutch::microvm;

namespace {

// A minimal ELF64 kernel: one PT_LOAD of `code` at `address`, and a PT_NOTE with the PVH entry
// note (a descriptor of `desc_size` bytes, 8 as in Linux's vmlinux) unless `pvh_note` is false.
struct ElfSpec {
    uint64_t address = 0x100000;
    std::string code = std::string(64, '\x90');
    uint64_t memory_size = 0x2000;
    uint64_t entry_offset = 0;
    bool pvh_note = true;
    uint32_t desc_size = 8;
};

template <typename T>
void append(std::string& out, const T& value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string make_elf64(const ElfSpec& spec) {
    std::string note;
    append(note, Elf64_Nhdr{4, spec.desc_size, 18});
    note.append("Xen\0", 4);
    uint64_t entry = spec.address + spec.entry_offset;
    note.append(reinterpret_cast<const char*>(&entry), spec.desc_size);

    uint16_t phnum = spec.pvh_note ? 2 : 1;
    uint64_t code_at = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    uint64_t note_at = code_at + spec.code.size();
    Elf64_Ehdr header = {};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = EM_X86_64;
    header.e_version = EV_CURRENT;
    header.e_entry = 0xffffffff81000000;  // a vmlinux's virtual entry, which PVH ignores
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = phnum;

    std::string image;
    append(image, header);
    append(image, Elf64_Phdr{PT_LOAD, PF_R | PF_X, code_at, spec.address, spec.address, spec.code.size(),
                             spec.memory_size, 0x1000});
    if (spec.pvh_note) append(image, Elf64_Phdr{PT_NOTE, PF_R, note_at, 0, 0, note.size(), note.size(), 4});
    image += spec.code;
    if (spec.pvh_note) image += note;
    return image;
}

GuestMemory memory_of(uint64_t mib) {
    auto memory = GuestMemory::create(mib << 20);
    REQUIRE(memory);
    return std::move(*memory);
}

std::string parse_error(const std::string& image) {
    auto kernel = parse_elf_kernel(image);
    REQUIRE_FALSE(kernel);
    return kernel.error().message;
}

}  // namespace

TEST_CASE("an ELF64 kernel with a PVH note loads at its physical address", "[microvm]") {
    ElfSpec spec;
    spec.code = "\xfa\xf4 kernel text";
    spec.entry_offset = 1;
    std::string image = make_elf64(spec);
    auto kernel = parse_elf_kernel(image);
    REQUIRE(kernel);
    CHECK(kernel->pvh_entry == 0x100001);
    CHECK(kernel->end == 0x102000);
    auto memory = memory_of(4);
    std::memset(memory.host_address() + 0x100000, 0xaa, 0x2000);  // the .bss must come back zeroed
    REQUIRE(load_elf_kernel(image, *kernel, memory));
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + 0x100000, spec.code.size()) ==
          spec.code);
    CHECK(memory.host_address()[0x100000 + spec.code.size()] == 0);
    CHECK(memory.host_address()[0x101fff] == 0);
}

TEST_CASE("a PVH note with a 4-byte descriptor is read too", "[microvm]") {
    ElfSpec spec;
    spec.desc_size = 4;
    auto kernel = parse_elf_kernel(make_elf64(spec));
    REQUIRE(kernel);
    CHECK(kernel->pvh_entry == 0x100000);
}

TEST_CASE("malformed kernel images are refused with one line", "[microvm]") {
    std::string good = make_elf64({});
    CHECK(parse_error("") == "not an ELF file (no \\x7fELF at its start)");
    CHECK(parse_error(good.substr(0, 40)) == "the ELF header is cut short");
    CHECK(parse_error(good.substr(0, sizeof(Elf64_Ehdr) + 10)) ==
          "the program headers lie past the end of the file");
    CHECK_THAT(parse_error(good.substr(0, good.size() - 30)),
               Catch::StartsWith("segment 0: its 64 bytes at offset 0xb0 lie past the end of the file"));

    std::string big_endian = good;
    big_endian[EI_DATA] = ELFDATA2MSB;
    CHECK(parse_error(big_endian) == "not a little-endian ELF file");
    std::string arm = good;
    arm[offsetof(Elf64_Ehdr, e_machine)] = EM_AARCH64;
    CHECK(parse_error(arm) == "a 64-bit ELF file not for x86-64");

    ElfSpec no_note;
    no_note.pvh_note = false;
    CHECK(
        parse_error(make_elf64(no_note)) ==
        "no PVH entry point (the ELF note Xen/XEN_ELFNOTE_PHYS32_ENTRY): a Linux kernel needs CONFIG_PVH=y");
    ElfSpec entry_outside;
    entry_outside.entry_offset = 0x5000;
    CHECK(parse_error(make_elf64(entry_outside)) == "the PVH entry 0x105000 is outside every loaded segment");
    ElfSpec odd_note;
    odd_note.desc_size = 2;
    CHECK(parse_error(make_elf64(odd_note)) == "segment 1: the PVH entry note holds 2 bytes, not 4 or 8");
    ElfSpec bss_smaller;
    bss_smaller.memory_size = 10;
    CHECK(parse_error(make_elf64(bss_smaller)) ==
          "segment 0: more bytes in the file (64) than in memory (10)");
}

TEST_CASE("kernel segments must lie in guest RAM at or above 1 MiB", "[microvm]") {
    auto memory = memory_of(4);
    ElfSpec low;
    low.address = 0x8000;
    std::string image = make_elf64(low);
    auto kernel = parse_elf_kernel(image);
    REQUIRE(kernel);
    auto loaded = load_elf_kernel(image, *kernel, memory);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message == "a segment at 0x8000 is below 1 MiB, where the VMM puts the boot data");

    ElfSpec high;
    high.address = 0x3ff000;
    image = make_elf64(high);
    kernel = parse_elf_kernel(image);
    REQUIRE(kernel);
    loaded = load_elf_kernel(image, *kernel, memory);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message ==
          "a segment of 8192 bytes at 0x3ff000 does not fit in guest memory (4 MiB)");
}

TEST_CASE("the command line is refused when Linux would not read it whole", "[microvm]") {
    CHECK(check_cmdline("console=ttyS0 quiet"));
    CHECK(check_cmdline(std::string(2047, 'a')));
    auto long_one = check_cmdline(std::string(2048, 'a'));
    REQUIRE_FALSE(long_one);
    CHECK(long_one.error().message ==
          "kernel command line: 2048 bytes, over the 2047 that Linux reads on x86");
    auto nul = check_cmdline(std::string("a\0b", 3));
    REQUIRE_FALSE(nul);
    CHECK(nul.error().message == "kernel command line: it holds a NUL byte");
}

TEST_CASE("the initrd goes page-aligned at the top of RAM, above the kernel, or is refused", "[microvm]") {
    auto placed = place_initrd(64 << 20, 0x200000, 5000);
    REQUIRE(placed);
    CHECK(*placed == (64 << 20) - 8192);
    auto too_large = place_initrd(64 << 20, 0x200000, 63 << 20);
    REQUIRE_FALSE(too_large);
    CHECK(too_large.error().message ==
          "initrd: 66060288 bytes do not fit in guest memory (64 MiB) above the kernel, which ends at "
          "0x200000");
    CHECK_FALSE(place_initrd(64 << 20, 0, uint64_t{1} << 40));
}

TEST_CASE("the PVH start_info gives the command line, the initrd and the memory map", "[microvm]") {
    auto memory = memory_of(16);
    std::string initrd = "initrd bytes";
    auto start_info = write_pvh_boot(memory, {"console=ttyS0", initrd, 0x200000});
    REQUIRE(start_info);
    HvmStartInfo info;
    std::memcpy(&info, memory.host_address() + *start_info, sizeof info);
    CHECK(info.magic == 0x336ec578);
    CHECK(info.version == 1);
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + info.cmdline_paddr) ==
          "console=ttyS0");
    REQUIRE(info.nr_modules == 1);
    HvmModlistEntry module;
    std::memcpy(&module, memory.host_address() + info.modlist_paddr, sizeof module);
    CHECK(module.size == initrd.size());
    CHECK(module.paddr == (16 << 20) - 4096);
    CHECK(std::string(reinterpret_cast<char*>(memory.host_address()) + module.paddr, module.size) == initrd);
    REQUIRE(info.memmap_entries == 3);
    HvmMemmapEntry map[3];
    std::memcpy(map, memory.host_address() + info.memmap_paddr, sizeof map);
    CHECK(map[0].addr == 0);
    CHECK(map[0].type == 1);
    CHECK(map[1].type == 2);
    CHECK(map[2].addr == 0x100000);
    CHECK(map[2].addr + map[2].size == 16 << 20);
    CHECK(map[2].type == 1);

    auto no_initrd = write_pvh_boot(memory, {"", "", 0x200000});
    REQUIRE(no_initrd);
    std::memcpy(&info, memory.host_address() + *no_initrd, sizeof info);
    CHECK(info.nr_modules == 0);
}

TEST_CASE("CPUID is adapted per vCPU: hypervisor bit, APIC id, topology", "[microvm]") {
    std::vector<kvm_cpuid_entry2> entries(3);
    entries[0].function = 1;
    entries[0].ebx = 0xff0800;  // a host's 255 logical processors, CLFLUSH line size 8
    entries[1].function = 0xb;  // level 0 only, as some hosts' KVM lists it
    entries[2].function = 0x80000008;
    entries[2].ecx = 0x70ff;
    adapt_cpuid(entries, 2, 3);
    CHECK(entries[0].ecx >> 31 == 1);
    CHECK(entries[0].ebx == 0x02030800);  // APIC id 2, 3 processors, CLFLUSH kept
    CHECK((entries[0].edx >> 28 & 1) == 1);
    CHECK(entries[1].function == 0x80000008);
    CHECK(entries[1].ecx == 0x0002);
    REQUIRE(entries.size() == 5);  // leaf 0xb rebuilt as three levels, at the end
    CHECK(entries[2].function == 0xb);
    CHECK(entries[2].ebx == 1);
    CHECK(entries[3].index == 1);
    CHECK(entries[3].ebx == 3);
    CHECK(entries[3].eax == 2);  // 3 cores need 2 bits of the APIC id
    CHECK(entries[3].edx == 2);
    CHECK((entries[4].ecx >> 8 & 0xff) == 0);  // the end of the levels
}

namespace {

struct Recorder final : Device {
    uint64_t last_offset = ~0ull;
    void read(uint64_t offset, std::span<uint8_t> data) override {
        last_offset = offset;
        std::ranges::fill(data, 0x5a);
    }
    void write(uint64_t offset, std::span<const uint8_t>) override { last_offset = offset; }
};

}  // namespace

TEST_CASE("the device bus routes accesses by range and refuses overlaps", "[microvm]") {
    Recorder device;
    DeviceBus bus("port I/O");
    REQUIRE(bus.add(0x3f8, 8, device));
    auto overlap = bus.add(0x3fc, 8, device);
    REQUIRE_FALSE(overlap);
    CHECK(overlap.error().message == "port I/O: a device is already at 0x3fc");
    CHECK_FALSE(bus.add(0x3f0, 9, device));
    REQUIRE(bus.add(0x3f0, 8, device));

    uint8_t byte = 0;
    CHECK(bus.read(0x3fd, std::span(&byte, 1)));
    CHECK(byte == 0x5a);
    CHECK(device.last_offset == 5);
    uint8_t word[2] = {};
    CHECK_FALSE(bus.read(0x3ff + 8, word));  // nothing there: all ones
    CHECK(word[0] == 0xff);
    CHECK_FALSE(bus.read(0x3ff, word));  // straddles the end of a range
}
