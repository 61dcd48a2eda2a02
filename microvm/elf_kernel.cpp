#include "microvm/elf_kernel.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "microvm/hex.h"
#include "microvm/memory_layout.h"

namespace hutch::microvm {

namespace {

constexpr uint32_t kXenElfNotePhys32Entry = 18;
// More would be a malformed image, and a loop the user controls.
constexpr size_t kMaxProgramHeaders = 128;

// Copies a T out of the image at `offset`, when all of it is there (the image has no alignment
// to rely on).
template <typename T>
std::optional<T> read_at(std::string_view image, uint64_t offset) {
    if (offset > image.size() || sizeof(T) > image.size() - offset) return std::nullopt;
    T value;
    std::memcpy(&value, image.data() + offset, sizeof(T));
    return value;
}

bool within(uint64_t offset, uint64_t size, uint64_t total) {
    return offset <= total && size <= total - offset;
}

// The PVH entry from the notes of one PT_NOTE segment, if they hold it. Each note: a header, the
// name and the descriptor, each padded to 4 bytes. Linux's descriptor is a pointer-sized value
// (8 bytes in a 64-bit vmlinux), a freestanding guest's often 4.
template <typename Nhdr>
ErrorOr<std::optional<uint32_t>> pvh_entry_in_notes(std::string_view notes) {
    auto align4 = [](uint64_t n) { return (n + 3) & ~uint64_t{3}; };
    uint64_t at = 0;
    while (at < notes.size()) {
        auto header = read_at<Nhdr>(notes, at);
        if (!header) return fail("an ELF note is cut short");
        uint64_t name_at = at + sizeof(Nhdr);
        uint64_t desc_at = name_at + align4(header->n_namesz);
        if (!within(name_at, header->n_namesz, notes.size()) ||
            !within(desc_at, header->n_descsz, notes.size()))
            return fail("an ELF note is larger than its segment");
        std::string_view name = notes.substr(name_at, header->n_namesz);
        if (header->n_type == kXenElfNotePhys32Entry && name == std::string_view("Xen", 4)) {
            uint64_t entry = 0;
            if (header->n_descsz != 4 && header->n_descsz != 8)
                return fail("the PVH entry note holds " + std::to_string(header->n_descsz) +
                            " bytes, not 4 or 8");
            std::memcpy(&entry, notes.data() + desc_at, header->n_descsz);  // little-endian, as x86
            if (entry > UINT32_MAX) return fail("the PVH entry " + hex(entry) + " is above 4 GiB");
            return static_cast<uint32_t>(entry);
        }
        at = desc_at + align4(header->n_descsz);
    }
    return std::optional<uint32_t>();
}

template <typename Ehdr, typename Phdr, typename Nhdr>
ErrorOr<ElfKernel> parse(std::string_view image) {
    auto header = read_at<Ehdr>(image, 0);
    if (!header) return fail("the ELF header is cut short");
    if (header->e_type != ET_EXEC)
        return fail("not an executable ELF file (e_type " + std::to_string(header->e_type) + ")");
    if (header->e_phentsize != sizeof(Phdr))
        return fail("program headers of " + std::to_string(header->e_phentsize) + " bytes, not " +
                    std::to_string(sizeof(Phdr)));
    if (header->e_phnum == 0 || header->e_phnum > kMaxProgramHeaders)
        return fail(std::to_string(header->e_phnum) + " program headers (1 to " +
                    std::to_string(kMaxProgramHeaders) + " expected)");
    if (!within(header->e_phoff, uint64_t{header->e_phnum} * sizeof(Phdr), image.size()))
        return fail("the program headers lie past the end of the file");

    ElfKernel kernel;
    std::optional<uint32_t> entry;
    for (size_t i = 0; i < header->e_phnum; ++i) {
        auto ph = *read_at<Phdr>(image, header->e_phoff + i * sizeof(Phdr));
        std::string which = "segment " + std::to_string(i);
        if ((ph.p_type == PT_LOAD || ph.p_type == PT_NOTE) && !within(ph.p_offset, ph.p_filesz, image.size()))
            return fail(which + ": its " + std::to_string(ph.p_filesz) + " bytes at offset " +
                        hex(ph.p_offset) + " lie past the end of the file (" + std::to_string(image.size()) +
                        " bytes)");
        if (ph.p_type == PT_NOTE && !entry)
            entry = TRY_CTX(pvh_entry_in_notes<Nhdr>(image.substr(ph.p_offset, ph.p_filesz)), which);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        if (ph.p_filesz > ph.p_memsz)
            return fail(which + ": more bytes in the file (" + std::to_string(ph.p_filesz) +
                        ") than in memory (" + std::to_string(ph.p_memsz) + ")");
        if (ph.p_paddr + ph.p_memsz < ph.p_paddr) return fail(which + ": its addresses wrap around");
        kernel.segments.push_back({ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz});
        kernel.end = std::max<uint64_t>(kernel.end, ph.p_paddr + ph.p_memsz);
    }
    if (kernel.segments.empty()) return fail("no loadable segment");
    if (!entry)
        return fail(
            "no PVH entry point (the ELF note Xen/XEN_ELFNOTE_PHYS32_ENTRY): a Linux kernel needs "
            "CONFIG_PVH=y");
    bool entry_loaded = std::ranges::any_of(kernel.segments, [&](const ElfSegment& s) {
        return *entry >= s.address && *entry - s.address < s.file_size;
    });
    if (!entry_loaded) return fail("the PVH entry " + hex(*entry) + " is outside every loaded segment");
    kernel.pvh_entry = *entry;
    return kernel;
}

}  // namespace

ErrorOr<ElfKernel> parse_elf_kernel(std::string_view image) {
    if (image.size() < EI_NIDENT || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0)
        return fail("not an ELF file (no \\x7fELF at its start)");
    if (image[EI_DATA] != ELFDATA2LSB) return fail("not a little-endian ELF file");
    switch (image[EI_CLASS]) {
        case ELFCLASS64: {
            auto machine = read_at<Elf64_Ehdr>(image, 0);
            if (machine && machine->e_machine != EM_X86_64) return fail("a 64-bit ELF file not for x86-64");
            return parse<Elf64_Ehdr, Elf64_Phdr, Elf64_Nhdr>(image);
        }
        case ELFCLASS32: {
            auto machine = read_at<Elf32_Ehdr>(image, 0);
            if (machine && machine->e_machine != EM_386) return fail("a 32-bit ELF file not for i386");
            return parse<Elf32_Ehdr, Elf32_Phdr, Elf32_Nhdr>(image);
        }
        default: return fail("an ELF file of unknown class " + std::to_string(image[EI_CLASS]));
    }
}

ErrorOr<void> load_elf_kernel(std::string_view image, const ElfKernel& kernel, const GuestMemory& memory) {
    for (const auto& s : kernel.segments) {
        if (s.address < layout::kHighMemory)
            return fail("a segment at " + hex(s.address) +
                        " is below 1 MiB, where the VMM puts the boot data");
        if (!memory.contains(s.address, s.memory_size))
            return fail("a segment of " + std::to_string(s.memory_size) + " bytes at " + hex(s.address) +
                        " does not fit in guest memory (" + std::to_string(memory.size() >> 20) + " MiB)");
    }
    for (const auto& s : kernel.segments) {
        auto target = TRY(memory.range(s.address, s.memory_size, "kernel segment"));
        std::memcpy(target.data(), image.data() + s.file_offset, s.file_size);
        std::memset(target.data() + s.file_size, 0, s.memory_size - s.file_size);
    }
    return {};
}

}  // namespace hutch::microvm
