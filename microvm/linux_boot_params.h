// The zero page of Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst): a struct
// boot_params with the image's setup header copied in, as the protocol asks of a boot loader,
// and what the loader fills in: type_of_loader, the command line, the initrd and the e820 memory
// map. Layout from <asm/bootparam.h> (linux-libc-dev).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "microvm/bzimage.h"
#include "microvm/guest_memory.h"

namespace hutch::microvm {

// "Undefined" in boot.rst's list of loader ids: a loader without an id of its own.
constexpr uint8_t kLoaderTypeUndefined = 0xff;

struct LinuxBoot {
    std::string_view cmdline;
    std::string_view initrd;  // empty: none
};

// Checks the command line against the kernel's cmdline_size and the initrd against its
// initrd_addr_max, then writes both and the zero page below 1 MiB; returns the zero page's
// address, for RSI.
ErrorOr<uint64_t> write_linux_boot_params(const GuestMemory& memory, const BzImage& kernel,
                                          const LinuxBoot& boot);

}  // namespace hutch::microvm
