// Which VMM runs a microVM (microvm/vmm_choice.h), for each kind of host and request.
#include "microvm/vmm_choice.h"

#include <catch2/catch.hpp>

using namespace hutch::microvm;

namespace {

const KvmFacts hardware{"", true};
const KvmFacts software_kvm{"", false};  // kvm_pvm: /dev/kvm opens, no vmx or svm
const KvmFacts no_kvm{"open /dev/kvm: No such file or directory", false};

}  // namespace

TEST_CASE("auto picks the builtin VMM only where KVM has hardware virtualisation", "[microvm]") {
    auto choice = choose_vmm(VmmRequest::automatic, hardware, "");
    REQUIRE(choice);
    CHECK(choice->builtin);
    CHECK(choice->reason == "the builtin VMM: /dev/kvm has hardware virtualisation beneath it");

    choice = choose_vmm(VmmRequest::automatic, software_kvm, "");
    REQUIRE(choice);
    CHECK_FALSE(choice->builtin);
    CHECK(choice->qemu_accel == "tcg");
    CHECK_THAT(choice->reason, Catch::StartsWith("QEMU with TCG: /dev/kvm has no hardware virtualisation"));

    choice = choose_vmm(VmmRequest::automatic, no_kvm, "");
    REQUIRE(choice);
    CHECK_FALSE(choice->builtin);
    CHECK(choice->qemu_accel == "tcg");
    CHECK(choice->reason ==
          "QEMU with TCG: /dev/kvm cannot be used (open /dev/kvm: No such file or directory)");
}

TEST_CASE("HUTCH_VM_ACCEL and --vmm=qemu pick QEMU, with KVM only where it can run Linux", "[microvm]") {
    auto choice = choose_vmm(VmmRequest::automatic, hardware, "tcg");
    REQUIRE(choice);
    CHECK_FALSE(choice->builtin);
    CHECK(choice->qemu_accel == "tcg");
    CHECK(choice->reason == "QEMU with TCG: HUTCH_VM_ACCEL=tcg asks for QEMU");

    choice = choose_vmm(VmmRequest::qemu, hardware, "");
    REQUIRE(choice);
    CHECK(choice->qemu_accel == "kvm");
    CHECK(choice->reason == "QEMU with KVM: --vmm=qemu");

    choice = choose_vmm(VmmRequest::qemu, software_kvm, "");
    REQUIRE(choice);
    CHECK(choice->qemu_accel == "tcg");
}

TEST_CASE("a VMM request the host cannot serve is one line saying why", "[microvm]") {
    auto choice = choose_vmm(VmmRequest::builtin, software_kvm, "");
    REQUIRE_FALSE(choice);
    CHECK_THAT(choice.error().message,
               Catch::StartsWith("--vmm=builtin: /dev/kvm has no hardware virtualisation beneath it"));
    choice = choose_vmm(VmmRequest::builtin, no_kvm, "");
    REQUIRE_FALSE(choice);
    CHECK(choice.error().message ==
          "--vmm=builtin: /dev/kvm cannot be used (open /dev/kvm: No such file or directory)");
    choice = choose_vmm(VmmRequest::automatic, hardware, "fast");
    REQUIRE_FALSE(choice);
    CHECK(choice.error().message == "HUTCH_VM_ACCEL: expected kvm or tcg, got fast");
    CHECK(choose_vmm(VmmRequest::builtin, hardware, ""));

    CHECK(*parse_vmm_request("auto") == VmmRequest::automatic);
    CHECK(*parse_vmm_request("builtin") == VmmRequest::builtin);
    CHECK(*parse_vmm_request("qemu") == VmmRequest::qemu);
    auto bad = parse_vmm_request("firecracker");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "--vmm firecracker: expected auto, builtin or qemu");
}

TEST_CASE("a VM with volumes goes to QEMU, which alone shares host directories so far", "[microvm]") {
    auto choice = choose_vmm(VmmRequest::automatic, hardware, "", {.shared_dirs = true});
    REQUIRE(choice);
    CHECK_FALSE(choice->builtin);
    CHECK(choice->qemu_accel == "kvm");
    CHECK(choice->reason == "QEMU with KVM: volumes need virtio-9p, which the builtin VMM does not have yet");

    auto builtin = choose_vmm(VmmRequest::builtin, hardware, "", {.shared_dirs = true});
    REQUIRE_FALSE(builtin);
    CHECK(builtin.error().message ==
          "--vmm=builtin: volumes need virtio-9p, which the builtin VMM does not have yet");
}
