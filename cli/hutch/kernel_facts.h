// The facts of the two kernels that `hutch run` can run an image under (kernel_requirements.h):
// this host's, and hutch's guest kernel for the microVM.
#pragma once

#include <string>

#include "cli/hutch/kernel_requirements.h"

namespace hutch::cli {

// This host's kernel: its version from uname(2); its config, when with_config, from
// /proc/config.gz (CONFIG_IKCONFIG_PROC), else /boot/config-RELEASE (Debian, Ubuntu, Fedora).
// What cannot be read is said in the facts, not failed: the caller decides what that means.
KernelFacts host_kernel_facts(bool with_config);

// The guest kernel at vmlinux: microvm/guest-kernel/build.sh writes its .config beside it as
// `config`, whose header gives its version too.
KernelFacts guest_kernel_facts(const std::string& vmlinux);

}  // namespace hutch::cli
