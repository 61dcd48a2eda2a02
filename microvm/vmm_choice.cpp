#include "microvm/vmm_choice.h"

#include <fcntl.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/fd.h"

namespace hutch::microvm {

namespace {

bool cpu_has_hardware_virtualisation() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("flags")) continue;
        std::istringstream flags(line);
        std::string flag;
        while (flags >> flag)
            if (flag == "vmx" || flag == "svm") return true;
        return false;
    }
    return false;
}

constexpr std::string_view no_shared_dirs = "volumes need virtio-9p, which the builtin VMM does not have yet";

std::string why_not_builtin(const KvmFacts& kvm) {
    if (!kvm.unusable.empty()) return "/dev/kvm cannot be used (" + kvm.unusable + ")";
    return "/dev/kvm has no hardware virtualisation beneath it (no vmx or svm in /proc/cpuinfo), "
           "and a Linux guest does not boot on it";
}

VmmChoice qemu(const KvmFacts& kvm, std::string_view forced_accel, const std::string& why) {
    bool kvm_works = kvm.unusable.empty() && kvm.hardware_virtualisation;
    std::string accel = !forced_accel.empty() ? std::string(forced_accel) : kvm_works ? "kvm" : "tcg";
    return {false, accel, "QEMU with " + std::string(accel == "kvm" ? "KVM" : "TCG") + ": " + why};
}

}  // namespace

ErrorOr<VmmRequest> parse_vmm_request(std::string_view text) {
    if (text == "auto") return VmmRequest::automatic;
    if (text == "builtin") return VmmRequest::builtin;
    if (text == "qemu") return VmmRequest::qemu;
    return fail("--vmm " + std::string(text) + ": expected auto, builtin or qemu");
}

KvmFacts probe_kvm() {
    KvmFacts facts{"", cpu_has_hardware_virtualisation()};
    UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm) facts.unusable = std::string("open /dev/kvm: ") + std::strerror(errno);
    return facts;
}

ErrorOr<VmmChoice> choose_vmm(VmmRequest request, const KvmFacts& kvm, std::string_view forced_accel,
                              VmNeeds needs) {
    if (!forced_accel.empty() && forced_accel != "kvm" && forced_accel != "tcg")
        return fail("HUTCH_VM_ACCEL: expected kvm or tcg, got " + std::string(forced_accel));
    bool builtin_can = kvm.unusable.empty() && kvm.hardware_virtualisation;
    switch (request) {
        case VmmRequest::qemu: return qemu(kvm, forced_accel, "--vmm=qemu");
        case VmmRequest::builtin:
            if (!builtin_can) return fail("--vmm=builtin: " + why_not_builtin(kvm));
            if (needs.shared_dirs) return fail("--vmm=builtin: " + std::string(no_shared_dirs));
            if (!forced_accel.empty())
                return fail("--vmm=builtin: HUTCH_VM_ACCEL is QEMU's, and asks for QEMU");
            return VmmChoice{true, "", "the builtin VMM (--vmm=builtin)"};
        case VmmRequest::automatic: break;
    }
    if (!forced_accel.empty())
        return qemu(kvm, forced_accel, "HUTCH_VM_ACCEL=" + std::string(forced_accel) + " asks for QEMU");
    if (!builtin_can) return qemu(kvm, forced_accel, why_not_builtin(kvm));
    if (needs.shared_dirs) return qemu(kvm, forced_accel, std::string(no_shared_dirs));
    return VmmChoice{true, "", "the builtin VMM: /dev/kvm has hardware virtualisation beneath it"};
}

ErrorOr<VmmChoice> choose_vmm(VmmRequest request, VmNeeds needs) {
    const char* forced = std::getenv("HUTCH_VM_ACCEL");
    return choose_vmm(request, probe_kvm(), forced ? forced : "", needs);
}

}  // namespace hutch::microvm
