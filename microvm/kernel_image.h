// A kernel image in either format the VMM boots, told apart by its first bytes: an ELF image
// (\x7fELF) through PVH (elf_kernel.h, pvh_boot.h), a bzImage ("HdrS" at 0x202) through Linux's
// 64-bit boot protocol (bzimage.h, linux_boot_params.h).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "microvm/boot_cpu.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

struct KernelBoot {
    std::string_view cmdline;
    std::string_view initrd;  // empty: none
};

// Checks and loads the kernel image read from `path` (named in its errors), writes the command
// line, the initrd and the boot data of its protocol, and returns how the vCPU enters it.
ErrorOr<BootEntry> load_kernel(const std::string& path, std::string_view image, const KernelBoot& boot,
                               const GuestMemory& memory);

}  // namespace hutch::microvm
