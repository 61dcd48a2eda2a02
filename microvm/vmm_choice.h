// Which VMM runs a container's microVM. hutch's own (hutch-vmm, run_vm.h) needs a /dev/kvm that
// can run a Linux guest, which means hardware virtualisation beneath it: a /dev/kvm without it (a
// software nested hypervisor such as kvm_pvm) runs small freestanding guests but stops on a Linux
// kernel's first instructions it cannot emulate. Everywhere else QEMU runs the guest: with KVM
// where the CPU has it, else with TCG, its emulator, which boots any kernel, slowly.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace hutch::microvm {

enum class VmmRequest { automatic, builtin, qemu };

// "auto", "builtin" or "qemu" (hutch run's --vmm); anything else is one line naming the three.
ErrorOr<VmmRequest> parse_vmm_request(std::string_view text);

// What this host's KVM can do.
struct KvmFacts {
    std::string unusable;          // why /dev/kvm cannot be opened; empty when it can
    bool hardware_virtualisation;  // vmx or svm among /proc/cpuinfo's flags
};
KvmFacts probe_kvm();

struct VmmChoice {
    bool builtin = false;
    std::string qemu_accel;  // QEMU's -accel, "kvm" or "tcg", when not builtin
    std::string reason;      // which, and why, in a line (hutch --debug prints it)
};

// What a VM needs that only QEMU gives so far.
struct VmNeeds {
    bool shared_dirs = false;  // volumes: virtio-9p
};

// `forced_accel` is $HUTCH_VM_ACCEL ("kvm" or "tcg", for QEMU; empty when unset): it picks QEMU's
// accelerator, and asking for it picks QEMU. A request the host cannot serve (builtin without
// hardware virtualisation, or a VM that needs what it lacks) fails with one line that says why.
ErrorOr<VmmChoice> choose_vmm(VmmRequest request, const KvmFacts& kvm, std::string_view forced_accel,
                              VmNeeds needs = {});

// choose_vmm with this host's facts and environment.
ErrorOr<VmmChoice> choose_vmm(VmmRequest request, VmNeeds needs = {});

}  // namespace hutch::microvm
