#include "microvm/kernel_image.h"

#include <elf.h>

#include <cstring>

#include "microvm/bzimage.h"
#include "microvm/elf_kernel.h"
#include "microvm/linux_boot_params.h"
#include "microvm/pvh_boot.h"

namespace hutch::microvm {

namespace {

bool is_elf(std::string_view image) { return image.starts_with(std::string_view(ELFMAG, SELFMAG)); }

ErrorOr<BootEntry> load_pvh(const std::string& path, std::string_view image, const KernelBoot& boot,
                            const GuestMemory& memory) {
    auto kernel = TRY_CTX(parse_elf_kernel(image), "kernel: " + path);
    TRY_CTX(load_elf_kernel(image, kernel, memory), "kernel: " + path);
    uint32_t start_info = TRY(write_pvh_boot(memory, {boot.cmdline, boot.initrd, kernel.end}));
    return BootEntry{BootEntry::Mode::protected_32, kernel.pvh_entry, start_info};
}

ErrorOr<BootEntry> load_linux_64(const std::string& path, std::string_view image, const KernelBoot& boot,
                                 const GuestMemory& memory) {
    auto kernel = TRY_CTX(parse_bzimage(image), "kernel: " + path);
    TRY_CTX(load_bzimage(image, kernel, memory), "kernel: " + path);
    uint64_t zero_page = TRY(write_linux_boot_params(memory, kernel, {boot.cmdline, boot.initrd}));
    return BootEntry{BootEntry::Mode::long_64, kernel.load_address + kBzImageEntry64, zero_page};
}

}  // namespace

ErrorOr<BootEntry> load_kernel(const std::string& path, std::string_view image, const KernelBoot& boot,
                               const GuestMemory& memory) {
    if (is_elf(image)) return load_pvh(path, image, boot, memory);
    if (is_bzimage(image)) return load_linux_64(path, image, boot, memory);
    return fail("kernel: " + path +
                ": neither an ELF image (no \\x7fELF at its start) nor a bzImage (no HdrS at 0x202)");
}

}  // namespace hutch::microvm
